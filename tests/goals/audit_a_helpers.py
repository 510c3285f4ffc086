"""Helpers of the area-A audit tests (``test_audit_a_*.py``)."""

from __future__ import annotations

from typing import Any
from unittest import mock

from rest_framework.test import APIClient

from goals import engine
from goals.models import Goal
from tests.goals.helpers import recompute_now
from tests.goals.test_api_scenarios import achievements, report


def client_state(api: APIClient, goal_id: int) -> tuple[Any, ...]:
    """What a client reads of a goal's result, without the ids a recompute renumbers."""
    rows = achievements(api, goal_id, page_size=500)
    rows = sorted(
        ({k: v for k, v in r.items() if k != "id"} for r in rows),
        key=lambda r: (r["achieved_at"], r["person_key"], str(r["trigger"])),
    )
    return rows, report(api, goal_id, start="2025-10-01", end="2026-06-30", period="week")


def same_after_full_build(api: APIClient, *goal_ids: int) -> None:
    """A full recompute gives what the incremental updates gave (§6), read without its
    catch-up. ``same_after_recompute`` (test_api_scenarios) lets the catch-up run, and in a
    test every row was received seconds ago, so the catch-up re-derives and re-attributes
    every person through the incremental path: what the build itself wrote (the SQL event
    staging, the LATERAL walk, the as-of join) is overwritten before it is read."""
    for goal_id in goal_ids:
        before = client_state(api, goal_id)
        with mock.patch.object(engine, "catch_up", lambda **kwargs: None):
            recompute_now(Goal.objects.get(pk=goal_id))
        assert client_state(api, goal_id) == before
