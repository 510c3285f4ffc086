"""Static files: the vendored Chart.js and the pages' scripts survive ``collectstatic`` with the
manifest storage production uses (a dangling source-map comment would make it fail)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management import call_command


def test_collectstatic_with_the_manifest_storage_succeeds(tmp_path: Path, settings: Any) -> None:
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

    call_command("collectstatic", interactive=False, verbosity=0)

    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in (
        "goals/vendor/chart-4.6.1.umd.min.js",
        "goals/goal_page.js",
        "goals/money.js",
        "goals/goals.css",
    ):
        assert name in paths
        assert (tmp_path / paths[name]).is_file()
    chart = (tmp_path / paths["goals/vendor/chart-4.6.1.umd.min.js"]).read_text()
    assert "Chart.js v4.6.1" in chart
    assert "sourceMappingURL" not in chart
