"""GET /api/v1/goals/{id}/achievements: the current result's achievements (SPEC §7).

Achievements are written directly (the engine's job is tested elsewhere), under the goal's
current version, plus rows of an older version that readers must never see.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.models import Broadcast, Campaign, Message, Person, Workspace
from goals import services as goal_services
from goals.models import Achievement, Goal

BERLIN = ZoneInfo("Europe/Berlin")


def url(goal: Goal) -> str:
    return f"/api/v1/goals/{goal.pk}/achievements"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return sources.campaign_create(workspace=workspace, name="Onboarding")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(workspace=workspace, name="March newsletter")


@pytest.fixture
def goal(workspace: Workspace, campaign: Campaign, newsletter: Broadcast) -> Goal:
    goal = goal_services.goal_create(
        workspace=workspace,
        name="Trial to paid",
        criteria={"trigger": {"type": "event", "name": "plan_activated"}},
        impact={"currency": "EUR", "event_key": "amount"},
        sources=[
            {"type": "campaign", "id": campaign.pk},
            {"type": "broadcast", "id": newsletter.pk},
        ],
    )
    Goal.objects.filter(pk=goal.pk).update(current_version=2)
    goal.refresh_from_db()
    return goal


def person(workspace: Workspace, identifier: str) -> Person:
    return Person.objects.create(workspace=workspace, identifier=identifier)


def message(workspace: Workspace, who: Person, client_id: str, **source: Any) -> Message:
    return Message.objects.create(
        workspace=workspace,
        client_id=client_id,
        person=who,
        person_key=who.key,
        channel="email",
        sent_at=at("2026-03-01T09:00:00"),
        **source,
    )


_trigger_ids = iter(range(1, 10_000))


def achieve(
    goal: Goal,
    who: Person | None,
    when: datetime,
    *,
    version: int | None = None,
    revenue: str = "0",
    missing: bool = False,
    via: Message | None = None,
) -> Achievement:
    return Achievement.objects.create(
        goal=goal,
        version=goal.current_version if version is None else version,
        person=who,
        person_key=who.key if who else uuid.uuid4(),
        achieved_at=when,
        local_date=when.astimezone(BERLIN).date(),
        revenue=Decimal(revenue),
        revenue_missing=missing,
        trigger_kind="event",
        trigger_id=next(_trigger_ids),
        message=via,
        source_campaign=via.campaign if via else None,
        source_broadcast=via.broadcast if via else None,
        touch_at=via.sent_at if via else None,
        window_start=at("2026-02-22T00:00:00") if via else None,
    )


@pytest.fixture
def history(
    workspace: Workspace, goal: Goal, campaign: Campaign, newsletter: Broadcast
) -> dict[str, Any]:
    ana, ben, cem = (person(workspace, name) for name in ("ana", "ben", "cem"))
    by_mail = message(workspace, ana, "m-ana", campaign=campaign)
    by_news = message(workspace, ben, "m-ben", broadcast=newsletter)
    rows = {
        # 2026-03-01 23:30 in Berlin is 22:30 UTC: its local date is the 1st.
        "a1": achieve(goal, ana, at("2026-03-01T23:30:00"), revenue="19.990000", via=by_mail),
        "b1": achieve(goal, ben, at("2026-03-02T10:00:00"), revenue="5", via=by_news),
        "c1": achieve(goal, cem, at("2026-03-03T08:00:00"), missing=True),
        "a2": achieve(goal, ana, at("2026-03-04T12:00:00"), revenue="1.5"),
    }
    # An older version: what a recompute is replacing. Never shown.
    achieve(goal, ana, at("2026-03-02T00:00:00"), version=1, revenue="999")
    return {"ana": ana, "ben": ben, "cem": cem, "mail": by_mail, "news": by_news, **rows}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_it_lists_the_current_results_achievements_in_time_order(
    api: APIClient, goal: Goal, history: dict[str, Any], campaign: Campaign
) -> None:
    response = api.get(url(goal))

    assert response.json()["count"] == 4
    assert ids(response) == [history[k].pk for k in ("a1", "b1", "c1", "a2")]
    first = response.json()["results"][0]
    assert first == {
        "id": history["a1"].pk,
        "person": "ana",
        "person_key": str(history["ana"].key),
        "achieved_at": "2026-03-01T22:30:00Z",
        "revenue": "19.99",
        "revenue_missing": False,
        "trigger": {"kind": "event", "id": history["a1"].trigger_id, "client_id": None},
        "attributed": True,
        "message": "m-ana",
        "source": {"type": "campaign", "id": campaign.pk, "name": "Onboarding", "deleted": False},
        "touch_at": "2026-03-01T08:00:00Z",
    }
    unattributed = response.json()["results"][2]
    assert unattributed["person"] == "cem"
    assert unattributed["revenue"] == "0.00"
    assert unattributed["revenue_missing"] is True
    assert (unattributed["attributed"], unattributed["message"], unattributed["source"]) == (
        False,
        None,
        None,
    )
    assert unattributed["touch_at"] is None


def test_it_shows_deleted_people_and_sources(
    api: APIClient, goal: Goal, history: dict[str, Any], newsletter: Broadcast
) -> None:
    services.person_delete(person=history["ben"])
    services.source_soft_delete(source=newsletter)

    row = api.get(url(goal)).json()["results"][1]

    assert row["person"] is None
    assert row["person_key"] == str(history["ben"].key)
    assert row["source"] == {
        "type": "broadcast",
        "id": newsletter.pk,
        "name": "March newsletter",
        "deleted": True,
    }


def test_it_filters_by_local_dates_inclusive(
    api: APIClient, goal: Goal, history: dict[str, Any]
) -> None:
    assert ids(api.get(url(goal), {"start": "2026-03-02", "end": "2026-03-03"})) == [
        history["b1"].pk,
        history["c1"].pk,
    ]
    assert ids(api.get(url(goal), {"end": "2026-03-01"})) == [history["a1"].pk]
    # 00:30 in Berlin on the 5th is still the 4th in UTC: days are the workspace's.
    late = achieve(goal, history["cem"], at("2026-03-05T00:30:00"))
    assert late.achieved_at.astimezone(ZoneInfo("UTC")).date() == date(2026, 3, 4)
    assert ids(api.get(url(goal), {"start": "2026-03-04", "end": "2026-03-04"})) == [
        history["a2"].pk
    ]
    assert ids(api.get(url(goal), {"start": "2026-03-05"})) == [late.pk]


def test_the_stored_local_dates_decide_until_the_new_zones_recompute_is_done(
    api: APIClient, goal: Goal, history: dict[str, Any], workspace: Workspace
) -> None:
    # The result's local dates were computed in Berlin; the zone changes 13 hours west. The
    # recompute that queues runs after the commit (none here): readers keep the result.
    workspace.time_zone = "Etc/GMT+12"
    workspace.save()
    assert ids(api.get(url(goal), {"start": "2026-03-02", "end": "2026-03-03"})) == [
        history["b1"].pk,
        history["c1"].pk,
    ]
    # 23:30 on the 1st in Berlin was 10:30 on the 1st at UTC-12: still the 1st, by its date.
    assert ids(api.get(url(goal), {"start": "2026-03-01", "end": "2026-03-01"})) == [
        history["a1"].pk
    ]
    workspace.time_zone = "Pacific/Kiritimati"  # UTC+14: 13 hours east of Berlin
    workspace.save()
    assert ids(api.get(url(goal), {"start": "2026-03-04"})) == [history["a2"].pk]
    assert ids(api.get(url(goal), {"end": "2026-03-01"})) == [history["a1"].pk]


def test_it_filters_by_source_and_attribution(
    api: APIClient,
    goal: Goal,
    history: dict[str, Any],
    campaign: Campaign,
    newsletter: Broadcast,
) -> None:
    assert ids(api.get(url(goal), {"source": f"campaign:{campaign.pk}"})) == [history["a1"].pk]
    assert ids(api.get(url(goal), {"source": f"broadcast:{newsletter.pk}"})) == [history["b1"].pk]
    assert ids(api.get(url(goal), {"attributed": "true"})) == [
        history["a1"].pk,
        history["b1"].pk,
    ]
    assert ids(api.get(url(goal), {"attributed": "false"})) == [
        history["c1"].pk,
        history["a2"].pk,
    ]
    assert ids(api.get(url(goal), {"attributed": "false", "start": "2026-03-04"})) == [
        history["a2"].pk
    ]


def test_a_source_outside_the_workspace_is_not_found(
    api: APIClient,
    goal: Goal,
    history: dict[str, Any],
    campaign: Campaign,
    other_workspace: Workspace,
) -> None:
    """SPEC §7: 404 for anything outside the caller's workspace; one that does not exist
    answers the same, so the answer tells nothing about other workspaces."""
    theirs = sources.campaign_create(workspace=other_workspace, name="Globex campaign")
    their_news = sources.broadcast_create(workspace=other_workspace, name="Globex news")
    answers = [
        api.get(url(goal), {"source": f"campaign:{theirs.pk}"}),
        api.get(url(goal), {"source": f"broadcast:{their_news.pk}"}),
        api.get(url(goal), {"source": "campaign:999999"}),
    ]
    for response, ref in zip(
        answers,
        [("campaign", theirs.pk), ("broadcast", their_news.pk), ("campaign", 999999)],
        strict=True,
    ):
        assert response.status_code == 404
        assert response.json()["errors"] == {
            "source": [f"no {ref[0]} with id {ref[1]} in this workspace"]
        }
        assert "Globex" not in response.content.decode()
    # A campaign of the workspace that no achievement is credited to, or a deleted one, is
    # an empty list: it exists here.
    other = sources.campaign_create(workspace=goal.workspace, name="Unused")
    assert ids(api.get(url(goal), {"source": f"campaign:{other.pk}"})) == []
    services.source_soft_delete(source=campaign)
    assert ids(api.get(url(goal), {"source": f"campaign:{campaign.pk}"})) == [history["a1"].pk]


def test_it_takes_booleans_as_clients_send_them(
    api: APIClient, goal: Goal, history: dict[str, Any]
) -> None:
    """``{"attributed": False}`` in Python's HTTP clients sends ``False``; many send 1 / 0."""
    credited, not_credited = (
        [history["a1"].pk, history["b1"].pk],
        [history["c1"].pk, history["a2"].pk],
    )
    for value in (True, "TRUE", "1"):
        assert ids(api.get(url(goal), {"attributed": value})) == credited
    for value in (False, "False", "0"):
        assert ids(api.get(url(goal), {"attributed": value})) == not_credited


def test_it_filters_by_the_source_fields_it_answers_with(
    api: APIClient,
    goal: Goal,
    history: dict[str, Any],
    campaign: Campaign,
    newsletter: Broadcast,
) -> None:
    """Each achievement names its source as ``{"type", "id"}``; a client filters with the same
    names (``source_type`` and ``source_id``), or by ``campaign`` / ``broadcast`` id."""
    by_mail, by_news = [history["a1"].pk], [history["b1"].pk]
    mail, news = str(campaign.pk), str(newsletter.pk)
    assert ids(api.get(url(goal), {"source_type": "campaign", "source_id": mail})) == by_mail
    assert ids(api.get(url(goal), {"source_type": "broadcast", "source_id": news})) == by_news
    assert ids(api.get(url(goal), {"campaign": campaign.pk})) == by_mail
    assert ids(api.get(url(goal), {"broadcast": newsletter.pk})) == by_news
    # An id that is not the workspace's: 404, as with ``source`` (see above).
    assert api.get(url(goal), {"campaign": newsletter.pk + 1000}).status_code == 404


def test_it_filters_by_one_local_date(api: APIClient, goal: Goal, history: dict[str, Any]) -> None:
    assert ids(api.get(url(goal), {"date": "2026-03-01"})) == [history["a1"].pk]
    assert ids(api.get(url(goal), {"date": "2026-03-03"})) == [history["c1"].pk]


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"source_type": "campaign"}, "source_id", "give source_id with source_type"),
        ({"source_id": "3"}, "source_type", "give source_type with source_id"),
        ({"source_type": "segment", "source_id": "3"}, "source_type", "unknown source type"),
        ({"source_type": "campaign", "source_id": "x"}, "source_id", "must be"),
        ({"campaign": "0"}, "campaign", "must be"),
        ({"campaign": "1", "broadcast": "2"}, "source", "one source"),
        ({"date": "2026-03-01", "start": "2026-03-01"}, "date", "not with start or end"),
        ({"attributed": "yes"}, "attributed", 'must be true or false, not "yes"'),
    ],
)
def test_it_rejects_bad_source_and_date_filters_naming_them(
    api: APIClient, goal: Goal, params: dict[str, str], field: str, reason: str
) -> None:
    response = api.get(url(goal), params)

    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == [field]
    assert reason in response.json()["errors"][field][0]


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"start": "01/03/2026"}, "start", "must be a date like 2025-11-30"),
        ({"end": "2026-02-30"}, "end", "must be a date like 2025-11-30"),
        ({"start": "2026-03-04", "end": "2026-03-01"}, "end", "must be on or after start"),
        ({"source": "segment:3"}, "source", "expected campaign:<id> or broadcast:<id>"),
        ({"source": "campaign:x"}, "source", "expected campaign:<id> or broadcast:<id>"),
        ({"source": f"campaign:{2**63}"}, "source", "expected campaign:<id> or broadcast:<id>"),
        ({"attributed": "yes"}, "attributed", 'must be true or false, not "yes"'),
        # Never silently the default order (decisions.md, Lists): the list has one order.
        ({"ordering": "-achieved_at"}, "ordering", "always ordered by achieved_at, then id"),
    ],
)
def test_it_rejects_bad_parameters_naming_them(
    api: APIClient, goal: Goal, params: dict[str, str], field: str, reason: str
) -> None:
    response = api.get(url(goal), params)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert reason in response.json()["errors"][field][0]


def test_it_paginates(api: APIClient, goal: Goal, history: dict[str, Any]) -> None:
    first = api.get(url(goal), {"page_size": 3})
    second = api.get(url(goal), {"page_size": 3, "page": 2})

    assert first.json()["count"] == 4
    assert ids(first) + ids(second) == [history[k].pk for k in ("a1", "b1", "c1", "a2")]
    assert second.json()["next"] is None


def test_a_goal_never_computed_has_no_achievements(api: APIClient, workspace: Workspace) -> None:
    fresh = goal_services.goal_create(
        workspace=workspace, name="New", criteria={"trigger": {"type": "event", "name": "x"}}
    )

    response = api.get(url(fresh))

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_it_is_scoped_to_the_workspace_and_open_to_viewers(
    other_api: APIClient, viewer_api: APIClient, goal: Goal, history: dict[str, Any]
) -> None:
    assert other_api.get(url(goal)).status_code == 404
    assert len(ids(viewer_api.get(url(goal)))) == 4
    assert viewer_api.post(url(goal), {}).status_code in (403, 405)


def test_a_page_takes_the_same_queries_however_many_rows_it_holds(
    api: APIClient,
    workspace: Workspace,
    goal: Goal,
    campaign: Campaign,
    history: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    api.get(url(goal))  # the token's first use writes last_used_at
    # The token, the goal, the count, a page of ids, those rows with their person, message
    # and source, and the client ids of their trigger events.
    with django_assert_max_num_queries(6) as small:
        api.get(url(goal))
    for i in range(30):
        who = person(workspace, f"p{i}")
        achieve(
            goal,
            who,
            at(f"2026-03-10T{i % 24:02d}:00:00"),
            via=message(workspace, who, f"m{i}", campaign=campaign),
        )

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = api.get(url(goal), {"page_size": 100})

    assert response.json()["count"] == 34
    new = [row for row in response.json()["results"] if row["person"].startswith("p")]
    assert len(new) == 30
    assert all(row["source"]["name"] == "Onboarding" and row["message"] for row in new)


def test_a_goal_without_impact_states_revenue_as_its_report_does(
    api: APIClient, workspace: Workspace
) -> None:
    """Money is a decimal string (SPEC §7) written one way: an achievement of a goal without
    impact has the "0.00" its report's revenue has, not "0"."""
    goal = goal_services.goal_create(
        workspace=workspace,
        name="Onboarded",
        criteria={"trigger": {"type": "event", "name": "onboarded"}},
    )
    Goal.objects.filter(pk=goal.pk).update(current_version=1)
    goal.refresh_from_db()
    achieve(goal, person(workspace, "dan"), at("2026-03-01T10:00:00"))

    listed = api.get(url(goal)).json()["results"]
    report = api.get(
        f"/api/v1/goals/{goal.pk}/report", {"start": "2026-03-01", "end": "2026-03-01"}
    )

    assert [row["revenue"] for row in listed] == ["0.00"]
    assert report.json()["unattributed"]["revenue"] == "0.00"


def test_a_format_suffix_is_read_as_the_format_not_a_500(
    api: APIClient, goal: Goal, history: dict[str, Any]
) -> None:
    # The router routes ``achievements.json`` as it routes ``goals/1.json``; the action
    # once refused the ``format`` argument with a TypeError (a 500).
    response = api.get(f"{url(goal)}.json")

    assert response.status_code == 200
    assert ids(response) == ids(api.get(url(goal)))
    unknown = api.get(f"{url(goal)}.csv")
    assert unknown.status_code == 400
    assert list(unknown.json()["errors"]) == ["format"]
