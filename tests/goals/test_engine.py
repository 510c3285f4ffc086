"""The goals engine end to end on the real database: ingestion through the API, evaluation,
attribution, recomputes. Tasks run in-process right after each commit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Broadcast, Campaign, Person, Segment, Workspace
from goals import engine
from goals.engine import recomputes
from goals.models import Achievement, Goal, GoalStatus
from tests.goals.helpers import ingest, make_goal, recompute_now, results

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def onboarding(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return Broadcast.objects.create(
        workspace=workspace,
        name="January news",
        kind="newsletter",
        status="sent",
        channels=["email"],
    )


def message(
    id: str, person: str, sent_at: str, source: Any = None, channel: str = "email", **extra: Any
) -> dict[str, Any]:
    item = {
        "type": "message",
        "id": id,
        "person": person,
        "channel": channel,
        "sent_at": sent_at,
        **extra,
    }
    if isinstance(source, Campaign):
        item["campaign"] = source.pk
    elif isinstance(source, Broadcast):
        item["broadcast"] = source.pk
    return item


def metric(message_id: str, name: str, ts: str, machine: bool = False) -> dict[str, Any]:
    return {
        "type": "metric",
        "message": message_id,
        "metric": name,
        "timestamp": ts,
        "machine": machine,
    }


def event(person: str, name: str, ts: str, **data: Any) -> dict[str, Any]:
    return {"type": "event", "person": person, "name": name, "timestamp": ts, "data": data}


def only(goal: Goal) -> Achievement:
    goal.refresh_from_db()
    return Achievement.objects.get(goal=goal, version=goal.current_version)


def test_an_achievement_is_attributed_to_the_last_qualifying_message(
    workspace: Workspace, api: APIClient, onboarding: Campaign, newsletter: Broadcast
) -> None:
    goal = make_goal(
        workspace, sources=[onboarding, newsletter], impact_currency="EUR", impact_event_key="price"
    )
    ingest(
        api,
        message("m1", "ada", "2026-01-10T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-01-10T09:01:00Z"),
        message("m2", "ada", "2026-01-12T09:00:00Z", newsletter),
        metric("m2", "delivered", "2026-01-12T09:01:00Z"),
        message("m3", "ada", "2026-01-13T09:00:00Z", None),  # transactional: never counts
        metric("m3", "delivered", "2026-01-13T09:01:00Z"),
        event("ada", "plan_activated", "2026-01-14T10:00:00Z", price="29.90"),
    )
    achievement = only(goal)
    assert achievement.message.client_id == "m2"  # type: ignore[union-attr]
    assert achievement.source_broadcast == newsletter
    assert achievement.touch_at == datetime(2026, 1, 12, 9, 1, tzinfo=UTC)
    assert achievement.revenue == Decimal("29.90")


def test_a_tie_goes_to_the_higher_delivery_id_whichever_message_arrived_first(
    workspace: Workspace, api: APIClient, onboarding: Campaign, newsletter: Broadcast
) -> None:
    goal = make_goal(workspace, sources=[onboarding, newsletter])
    sent, delivered = "2026-06-10T08:00:00Z", "2026-06-10T09:00:00Z"
    for person, order in (("pat", (onboarding, newsletter)), ("quin", (newsletter, onboarding))):
        for source in order:
            key = "A" if source == onboarding else "B"
            ingest(
                api,
                message(f"{key}-{person}", person, sent, source),
                metric(f"{key}-{person}", "delivered", delivered),
            )
        ingest(api, event(person, "plan_activated", "2026-06-10T12:00:00Z"))

    credited = {row[0]: row[5] for row in results(goal)}
    assert credited == {"pat": "B-pat", "quin": "B-quin"}
    assert results(recompute_now(goal)) == results(goal)


def test_a_new_workspace_time_zone_recomputes_local_days_and_windows(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    workspace.time_zone = "America/New_York"
    workspace.save()
    goal = make_goal(workspace, sources=[onboarding], window_days=0)
    ingest(
        api,
        message("m1", "ada", "2026-05-09T04:00:00Z", onboarding),
        metric("m1", "delivered", "2026-05-09T05:00:00Z"),  # 01:00 on the 9th in New York
        event("ada", "plan_activated", "2026-05-10T02:00:00Z"),  # 22:00 on the 9th there
    )
    achievement = only(goal)
    assert achievement.local_date.isoformat() == "2026-05-09"
    assert achievement.message is not None  # the same local day: inside a 0-day window

    workspace.time_zone = "UTC"
    workspace.save()  # the goal is recomputed (in-process, after the commit)

    goal.refresh_from_db()
    assert goal.current_version == 2 and goal.status == GoalStatus.READY
    achievement = only(goal)
    assert achievement.local_date.isoformat() == "2026-05-10"  # 02:00 on the 10th in UTC
    assert achievement.message is None  # the touch was the day before: outside the window
    workspace.name = "Renamed"
    workspace.save()  # not a zone change: nothing to recompute
    assert Goal.objects.get(pk=goal.pk).requested_version == 2


def test_a_late_message_re_attributes_an_earlier_achievement(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    assert only(goal).message is None
    ingest(api, message("m1", "ada", "2026-01-13T09:00:00Z", onboarding))
    assert only(goal).message is None  # sent, not yet delivered
    ingest(api, metric("m1", "delivered", "2026-01-13T09:05:00Z"))
    assert only(goal).message.client_id == "m1"  # type: ignore[union-attr]


def test_the_same_data_in_two_orders_gives_identical_results(
    api: APIClient, make_token_client: Any
) -> None:
    def build(name: str, order: list[int]) -> list[tuple[Any, ...]]:
        workspace = services.workspace_create(name=name, time_zone="Europe/Berlin")
        client = make_token_client(workspace)
        campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
        goal = make_goal(
            workspace,
            sources=[campaign],
            metrics={"email": "opened"},
            window_days=3,
            impact_currency="USD",
            impact_static=Decimal("10"),
        )
        items = [
            [message("m1", "ada", "2026-01-10T09:00:00Z", campaign)],
            [metric("m1", "opened", "2026-01-10T09:30:00Z", machine=True)],
            [message("m2", "ada", "2026-01-11T09:00:00Z", campaign)],
            [metric("m2", "clicked", "2026-01-11T12:00:00Z")],
            [event("ada", "plan_activated", "2026-01-12T08:00:00Z")],
            [event("ada", "plan_activated", "2026-01-20T08:00:00Z")],
            [message("m3", "bob", "2026-01-19T23:30:00Z", campaign, channel="sms")],
            [metric("m3", "delivered", "2026-01-19T23:31:00Z")],
            [event("bob", "plan_activated", "2026-01-20T00:10:00Z")],
        ]
        for index in order:
            ingest(client, *items[index])
        return results(goal)

    forward = build("forward", list(range(9)))
    # Events first, then messages, then metrics, each newest first (a metric needs its message).
    backward = build("backward", [8, 5, 4, 6, 2, 0, 7, 3, 1])
    assert forward == backward
    assert [row[5] for row in forward] == ["m2", None, "m3"]


def test_changing_the_settings_recomputes_and_readers_keep_the_old_result_until_then(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(
        api,
        message("m1", "ada", "2026-01-01T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-01-01T09:01:00Z"),
        event("ada", "plan_activated", "2026-01-14T10:00:00Z"),
    )
    assert only(goal).message is None  # 13 days back: outside the 7-day window
    old_version = goal.current_version
    Goal.objects.filter(pk=goal.pk).update(window_days=30)
    goal.refresh_from_db()
    engine.recompute_request(goal=goal)  # queued on commit (autocommit: runs now, in-process)
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY
    assert goal.current_version > old_version
    assert only(goal).message.client_id == "m1"  # type: ignore[union-attr]
    assert not Achievement.objects.filter(goal=goal, version=old_version).exists()


def test_a_build_overtaken_by_a_newer_change_is_discarded_and_built_again(
    workspace: Workspace, api: APIClient, onboarding: Campaign, monkeypatch: Any
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    before = goal.current_version
    real_build = engine.build_attributed
    builds: list[int] = []

    def change_goal_during_the_first_build(spec: Any, **kwargs: Any) -> int:
        count = real_build(spec, **kwargs)
        builds.append(kwargs["version"])
        if len(builds) == 1:
            # While this build runs, the readers still see the previous result...
            assert Goal.objects.get(pk=goal.pk).current_version == before
            # ...and someone changes the goal again.
            Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 2)
        return count

    monkeypatch.setattr(recomputes, "build_attributed", change_goal_during_the_first_build)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert engine.recompute(goal_id=goal.pk) is True
    goal.refresh_from_db()
    # The overtaken build was dropped and the newest change built by the same worker.
    assert builds == [before + 1, before + 2]
    assert goal.current_version == goal.requested_version == before + 2
    assert set(Achievement.objects.filter(goal=goal).values_list("version", flat=True)) == {
        before + 2
    }


def test_a_recompute_while_another_holds_the_goal_waits_and_then_finds_nothing_to_do(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert recomputes._claim(goal.pk)  # another worker is building
    with pytest.raises(engine.LeaseHeld):
        engine.recompute(goal_id=goal.pk)
    recomputes._release(goal.pk)
    assert engine.recompute(goal_id=goal.pk) is True
    assert engine.recompute(goal_id=goal.pk) is False  # idempotent: already current
    goal.refresh_from_db()
    assert Achievement.objects.filter(goal=goal).count() == 1


def test_deleting_sources_and_people_never_changes_results(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(
        workspace,
        sources=[onboarding],
        filters=[{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
    )
    ingest(
        api,
        {
            "type": "person",
            "person": "ada",
            "attributes": {"country": "DE"},
            "timestamp": "2026-01-01T00:00:00Z",
        },
        message("m1", "ada", "2026-01-13T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-01-13T09:01:00Z"),
        event("ada", "plan_activated", "2026-01-14T10:00:00Z"),
    )
    before = results(goal)
    assert before[0][5] == "m1"
    services.source_soft_delete(source=onboarding)
    services.person_delete(person=Person.objects.get(identifier="ada"))
    after_delete = results(goal)
    assert [row[1:] for row in after_delete] == [row[1:] for row in before]
    recompute_now(goal)
    assert [row[1:] for row in results(goal)] == [row[1:] for row in before]


def test_nothing_before_the_tracking_start_counts(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding], window_days=30)
    ingest(
        api,
        message("m1", "ada", "2025-10-30T09:00:00Z", onboarding),
        metric("m1", "delivered", "2025-10-30T09:01:00Z"),
        event("ada", "plan_activated", "2025-10-31T23:59:59Z"),
        event("ada", "plan_activated", "2025-11-02T10:00:00Z"),
    )
    achievement = only(goal)
    assert achievement.achieved_at == datetime(2025, 11, 2, 10, tzinfo=UTC)
    assert achievement.message is None  # the touch predates the tracking start


def test_event_conditions_and_a_missing_revenue_value(workspace: Workspace, api: APIClient) -> None:
    goal = make_goal(
        workspace,
        trigger={
            "type": "event",
            "name": "plan_activated",
            "conditions": [{"key": "plan.tier", "op": "eq", "value": "pro"}],
        },
        impact_currency="EUR",
        impact_event_key="price",
    )
    ingest(
        api,
        event("ada", "plan_activated", "2026-01-14T10:00:00Z", plan={"tier": "pro"}, price=29),
        event("bob", "plan_activated", "2026-01-14T11:00:00Z", plan={"tier": "basic"}, price=9),
        event("cyd", "plan_activated", "2026-01-14T12:00:00Z", plan={"tier": "pro"}, price="n/a"),
    )
    rows = {r[0]: r for r in results(goal)}
    assert set(rows) == {"ada", "cyd"}
    assert rows["ada"][3:5] == ("29", False)
    assert rows["cyd"][3:5] == ("0", True)


def test_attribute_triggers_fire_only_on_a_change_to_matching(
    workspace: Workspace, api: APIClient
) -> None:
    goal = make_goal(
        workspace, trigger={"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    )

    def put(plan: str, ts: str) -> None:
        ingest(
            api, {"type": "person", "person": "ada", "attributes": {"plan": plan}, "timestamp": ts}
        )

    put("trial", "2026-01-01T00:00:00Z")
    put("pro", "2026-01-02T00:00:00Z")
    ingest(
        api,
        {
            "type": "person",
            "person": "ada",
            "attributes": {"seats": 3},
            "timestamp": "2026-01-03T00:00:00Z",
        },
    )  # still pro: no new achievement
    put("trial", "2026-01-04T00:00:00Z")
    put("pro", "2026-01-05T00:00:00Z")
    assert [r[1] for r in results(goal)] == [
        "2026-01-02T00:00:00+00:00",
        "2026-01-05T00:00:00+00:00",
    ]


def test_attribute_triggers_already_matching_with_no_attributes_wait_for_a_change_back(
    workspace: Workspace, api: APIClient
) -> None:
    """Before a person's first change they have no attributes, which ``neq`` and
    ``not_exists`` already match: a first write that keeps them matching is no change."""
    not_pro = make_goal(
        workspace, trigger={"type": "attribute", "key": "plan", "op": "neq", "value": "pro"}
    )
    no_plan = make_goal(workspace, trigger={"type": "attribute", "key": "plan", "op": "not_exists"})

    def put(person: str, ts: str, **attributes: Any) -> None:
        ingest(api, {"type": "person", "person": person, "attributes": attributes, "timestamp": ts})

    put("ada", "2026-09-01T10:00:00Z", country="DE")  # matches both, as before: no change
    put("ada", "2026-09-02T10:00:00Z", country="FR")
    put("ada", "2026-09-03T10:00:00Z", plan="pro")  # matches neither
    put("ada", "2026-09-04T10:00:00Z", plan="free")  # not pro again: not_pro achieved
    put("bob", "2026-09-01T10:00:00Z", country="DE")
    put("cyd", "2026-09-01T10:00:00Z", plan="pro")
    put("cyd", "2026-09-02T10:00:00Z", plan=None)  # the plan removed: both achieved

    assert [(r[0], r[1]) for r in results(not_pro)] == [
        ("ada", "2026-09-04T10:00:00+00:00"),
        ("cyd", "2026-09-02T10:00:00+00:00"),  # from pro to no plan
    ]
    assert [(r[0], r[1]) for r in results(no_plan)] == [("cyd", "2026-09-02T10:00:00+00:00")]
    # A recompute from stored data agrees with what arrived one change at a time.
    assert results(recompute_now(not_pro)) == results(not_pro)
    assert results(recompute_now(no_plan)) == results(no_plan)


def test_segment_triggers_and_segment_filters_at_that_moment(
    workspace: Workspace, api: APIClient
) -> None:
    trial = Segment.objects.create(workspace=workspace, name="Trial")
    vip = Segment.objects.create(workspace=workspace, name="VIP")
    goal = make_goal(
        workspace,
        trigger={"type": "segment", "segment": trial.pk},
        filters=[{"type": "segment", "segment": vip.pk, "in": False}],
    )
    ingest(
        api,
        {
            "type": "segment",
            "person": "ada",
            "segment": trial.pk,
            "action": "enter",
            "timestamp": "2026-01-02T00:00:00Z",
        },
        {
            "type": "segment",
            "person": "bob",
            "segment": vip.pk,
            "action": "enter",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        {
            "type": "segment",
            "person": "bob",
            "segment": trial.pk,
            "action": "enter",
            "timestamp": "2026-01-02T00:00:00Z",
        },
    )
    assert [r[0] for r in results(goal)] == ["ada"]
    # bob left VIP before entering the trial segment: a late change re-evaluates him.
    ingest(
        api,
        {
            "type": "segment",
            "person": "bob",
            "segment": vip.pk,
            "action": "leave",
            "timestamp": "2026-01-01T12:00:00Z",
        },
    )
    assert [r[0] for r in results(goal)] == ["ada", "bob"]


def test_message_triggers_count_each_message_once(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(
        workspace, trigger={"type": "message", "metric": "opened", "campaign": onboarding.pk}
    )
    ingest(
        api,
        message("m1", "ada", "2026-01-10T09:00:00Z", onboarding),
        metric("m1", "clicked", "2026-01-10T10:00:00Z"),  # a click implies the open
        metric("m1", "opened", "2026-01-10T11:00:00Z"),
        message("m2", "ada", "2026-01-11T09:00:00Z", onboarding, channel="sms"),
        metric("m2", "clicked", "2026-01-11T10:00:00Z"),  # sms has no "opened"
    )
    assert [r[1] for r in results(goal)] == ["2026-01-10T10:00:00+00:00"]


def test_anonymous_in_app_messages_never_count(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(
        api,
        {
            "type": "message",
            "id": "anon",
            "channel": "in_app",
            "campaign": onboarding.pk,
            "anonymous": True,
            "sent_at": "2026-01-13T09:00:00Z",
        },
        event("ada", "plan_activated", "2026-01-14T10:00:00Z"),
    )
    assert only(goal).message is None


def test_a_recompute_applies_the_edge_cases_of_the_rule(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(
        api,
        # Same touch instant as the achievement: qualifies. Ties: the later sent time wins...
        message("m1", "ada", "2026-01-14T08:00:00Z", onboarding),
        metric("m1", "delivered", "2026-01-14T10:00:00Z"),
        message("m2", "ada", "2026-01-14T09:00:00Z", onboarding),
        metric("m2", "delivered", "2026-01-14T10:00:00Z"),
        event("ada", "plan_activated", "2026-01-14T10:00:00Z"),
        # ...and a touch one second after the achievement does not count.
        message("m3", "bob", "2026-01-14T08:00:00Z", onboarding),
        metric("m3", "delivered", "2026-01-14T10:00:01Z"),
        event("bob", "plan_activated", "2026-01-14T10:00:00Z"),
    )
    incremental = results(goal)
    assert [(row[0], row[5]) for row in incremental] == [("ada", "m2"), ("bob", None)]
    recompute_now(goal)  # the whole-goal path must agree with the per-person one
    assert results(goal) == incremental


def test_a_goal_deleted_during_its_recompute_ends_it_quietly(
    workspace: Workspace, api: APIClient, onboarding: Campaign, monkeypatch: Any
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    real_build = engine.build_attributed

    def delete_goal_then_build(spec: Any, **kwargs: Any) -> Any:
        Goal.objects.filter(pk=goal.pk).delete()
        return real_build(spec, **kwargs)

    monkeypatch.setattr(recomputes, "build_attributed", delete_goal_then_build)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert engine.recompute(goal_id=goal.pk) is False
    assert not Achievement.objects.filter(goal_id=goal.pk).exists()


def test_a_deleted_persons_achievements_follow_later_changes_of_the_goal(
    workspace: Workspace, api: APIClient
) -> None:
    goal = make_goal(
        workspace,
        trigger={"type": "event", "name": "buy"},
        filters=[{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
        impact_currency="EUR",
        impact_static=Decimal("10"),
    )
    ingest(
        api,
        {
            "type": "person",
            "person": "ada",
            "attributes": {"country": "DE"},
            "timestamp": "2026-01-01T00:00:00Z",
        },
        event("ada", "buy", "2026-01-14T10:00:00Z"),
        event("ada", "refund", "2026-01-15T10:00:00Z"),
    )
    services.person_delete(person=Person.objects.get(identifier="ada"))
    # The impact changes: the deleted person's achievement is re-priced, not frozen.
    Goal.objects.filter(pk=goal.pk).update(impact_static=Decimal("25"))
    recompute_now(goal)
    assert [row[3] for row in results(goal)] == ["25"]
    # The trigger changes: what the person did is re-evaluated (their events survive); the
    # attribute filter keeps the verdict it had, so the refund does not count...
    Goal.objects.filter(pk=goal.pk).update(
        criteria={
            "trigger": {"type": "event", "name": "refund"},
            "filters": goal.criteria["filters"],
        }
    )
    recompute_now(goal)
    assert results(goal) == []
    # ...and without the attribute filter it does.
    Goal.objects.filter(pk=goal.pk).update(
        criteria={"trigger": {"type": "event", "name": "refund"}, "filters": []}
    )
    recompute_now(goal)
    assert [row[1] for row in results(goal)] == ["2026-01-15T10:00:00+00:00"]


def test_entering_a_segment_already_entered_is_not_a_new_achievement(
    workspace: Workspace, api: APIClient
) -> None:
    trial = Segment.objects.create(workspace=workspace, name="Trial")
    goal = make_goal(workspace, trigger={"type": "segment", "segment": trial.pk})

    def change(action: str, ts: str) -> dict[str, Any]:
        return {
            "type": "segment",
            "person": "ada",
            "segment": trial.pk,
            "action": action,
            "timestamp": ts,
        }

    ingest(
        api,
        change("enter", "2026-01-02T00:00:00Z"),
        change("enter", "2026-01-03T00:00:00Z"),  # still inside: not an entry
        change("leave", "2026-01-04T00:00:00Z"),
        change("enter", "2026-01-05T00:00:00Z"),
    )
    assert [row[1][:10] for row in results(goal)] == ["2026-01-02", "2026-01-05"]


@pytest.mark.parametrize("arrival", ["enter first", "leave first"])
def test_an_enter_and_a_leave_at_the_same_instant_do_not_depend_on_arrival_order(
    workspace: Workspace, api: APIClient, arrival: str
) -> None:
    """SPEC §4.5: the result never depends on arrival order. Changes were ordered by time, then
    by row id (arrival), so an enter and a leave sent with one timestamp made the person a member
    or not by which arrived first. At one instant an enter comes before a leave: the person
    entered (a segment trigger fires) and is outside afterwards."""
    trial = Segment.objects.create(workspace=workspace, name="Trial")
    entered = make_goal(workspace, name="entered", trigger={"type": "segment", "segment": trial.pk})
    member = make_goal(
        workspace,
        name="bought as member",
        trigger={"type": "event", "name": "bought"},
        filters=[{"type": "segment", "segment": trial.pk, "in": True}],
    )
    changes = [
        {"type": "segment", "person": "ada", "segment": trial.pk, "action": action,
         "timestamp": "2026-01-02T00:00:00Z"}
        for action in (["enter", "leave"] if arrival == "enter first" else ["leave", "enter"])
    ]  # fmt: skip
    for change in changes:  # two requests: arrival order is row order
        ingest(api, change)
    ingest(api, event("ada", "bought", "2026-01-03T00:00:00Z"))

    assert [row[1][:10] for row in results(entered)] == ["2026-01-02"]
    assert results(member) == []
    for goal in (entered, member):  # a recompute agrees with the incremental updates
        before = results(goal)
        assert results(recompute_now(goal)) == before


def test_a_build_whose_lease_was_taken_over_is_never_switched_in(
    workspace: Workspace, api: APIClient, onboarding: Campaign, monkeypatch: Any
) -> None:
    goal = make_goal(workspace, sources=[onboarding])
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    before = goal.current_version
    real_build = engine.build_attributed

    def lose_the_lease(spec: Any, **kwargs: Any) -> int:
        count = real_build(spec, **kwargs)
        # This build outlived its lease; another worker claimed the goal.
        Goal.objects.filter(pk=goal.pk).update(
            recompute_lease_until=datetime(2100, 1, 1, tzinfo=UTC)
        )
        return count

    monkeypatch.setattr(recomputes, "build_attributed", lose_the_lease)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert engine.recompute(goal_id=goal.pk) is False
    goal.refresh_from_db()
    assert goal.current_version == before
    # The other worker's lease is left alone.
    assert goal.recompute_lease_until == datetime(2100, 1, 1, tzinfo=UTC)


def test_finding_the_goals_an_ingestion_affects_costs_the_same_for_many_goals(
    workspace: Workspace, onboarding: Campaign, django_assert_max_num_queries: Any
) -> None:
    for n in range(12):
        make_goal(
            workspace,
            name=f"g{n}",
            trigger={"type": "event", "name": "nothing"},
            sources=[onboarding],
            compute=False,
        )
    with django_assert_max_num_queries(4):
        assert engine.process_ingested(workspace_id=workspace.pk) == 0
