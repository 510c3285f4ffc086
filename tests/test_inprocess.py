"""In-process mode inside a test's own transaction (``goals_project.inprocess``): a client
driving the API from a plain ``django_db`` test, whose transaction never commits, sees what a
real client sees, the goal computed and the data evaluated when each request is answered."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from goals_project.celery import app as celery_app
from tests.goals.test_api_scenarios import achievements, campaign_goal, create, event, metric, msg

pytestmark = pytest.mark.django_db  # the test case's transaction: nothing ever commits


def test_a_client_in_a_test_transaction_sees_its_goal_computed_and_its_data_attributed(
    api: APIClient,
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "Onboarding", "status": "running"})
    g = campaign_goal(api, campaign, impact={"currency": "EUR", "static": "10.00"})
    assert api.get(f"/api/v1/goals/{g['id']}").json()["status"] == "ready"

    msg(api, "m1", "ada", "email", "2026-01-10T08:00:00Z", campaign=campaign["id"])
    assert metric(api, "m1", "delivered", "2026-01-10T08:01:00Z").status_code in (200, 201)
    assert event(api, "ada", "buy", "2026-01-11T09:00:00Z").status_code == 201

    report = api.get(
        f"/api/v1/goals/{g['id']}/report", {"start": "2026-01-01", "end": "2026-01-31"}
    ).json()
    assert report["total_people"] == 1
    assert report["impact"] == {"amount": "10.00", "currency": "EUR"}
    assert [s["people"] for s in report["by_source"]] == [1]
    (row,) = achievements(api, g["id"])
    assert row["person"] == "ada"
    assert row["message"] is not None


def test_a_request_inside_an_open_transaction_of_the_app_leaves_its_work_to_the_commit(
    api: APIClient,
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "Onboarding", "status": "running"})
    g = campaign_goal(api, campaign)
    with transaction.atomic():  # not the test case's: its commit is still to come
        before = len(connection.run_on_commit)
        assert event(api, "ada", "buy", "2026-01-11T09:00:00Z").status_code == 201
        assert len(connection.run_on_commit) == before + 1
    assert achievements(api, g["id"]) == []  # it never committed: the work never ran


def test_with_a_broker_the_work_waits_for_a_real_commit(api: APIClient) -> None:
    celery_app.conf.task_always_eager = False  # the autouse ``_task_mode`` restores it
    before = len(connection.run_on_commit)
    assert event(api, "ada", "buy", "2026-01-11T09:00:00Z").status_code == 201
    assert len(connection.run_on_commit) == before + 1  # queued at the commit, as in production
