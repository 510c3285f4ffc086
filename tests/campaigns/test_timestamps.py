"""Timestamps as clients write them (SPEC §7: ISO 8601 with an offset, or Unix seconds)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-05T10:00:00z",
        "2026-01-05t10:00:00Z",
        "2026-01-05t10:00:00z",
        " 2026-01-05T10:00:00z ",
    ],
)
def test_rfc_3339s_lower_case_t_and_z_mean_what_upper_case_does(
    api: APIClient, workspace: Workspace, written: str
) -> None:
    """RFC 3339 (the internet profile of ISO 8601, §5.6) lets "T" and "Z" be written lower
    case; Python's ``fromisoformat`` takes a lower-case "t" but refused "z" with a 400."""
    response = api.post(
        "/api/v1/people/ada/events", {"name": "x", "timestamp": written}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["timestamp"] == "2026-01-05T10:00:00Z"


def test_a_lone_z_is_still_no_timestamp(api: APIClient, workspace: Workspace) -> None:
    response = api.post("/api/v1/people/ada/events", {"name": "x", "timestamp": "z"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["timestamp"]
