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


def test_collected_files_are_served_without_debug(
    tmp_path: Path, settings: Any, client: Any
) -> None:
    """README's production setup (``collectstatic``, then gunicorn with DEBUG off) served no
    ``/static/`` at all: every page lost its stylesheet and Chart.js, and the API docs, which
    SPEC §7 wants working offline from local files, were a blank page."""
    assert not settings.DEBUG
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]

    hashed = client.get(f"/static/{paths['goals/vendor/chart-4.6.1.umd.min.js']}")
    assert hashed.status_code == 200
    assert b"Chart.js v4.6.1" in b"".join(hashed.streaming_content)
    assert "immutable" in hashed["Cache-Control"]  # its name changes with its content
    swagger = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert client.get(f"/static/{paths[swagger]}").status_code == 200
    plain = client.get("/static/goals/goals.css")  # the unhashed copy: revalidated
    assert plain.status_code == 200 and "immutable" not in plain.get("Cache-Control", "")
    assert client.get("/static/../pyproject.toml").status_code in (400, 404)  # never served
    assert client.get("/static/goals/nothing.js").status_code == 404
