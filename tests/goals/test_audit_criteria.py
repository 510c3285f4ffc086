"""Audit of SPEC §4.1 (criteria) and §4.2 (impact) over the API: every trigger kind, every
operator, filters at the moment of the achievement, the tracking start, and impact, with the
expected achievements worked out by hand from the spec and docs/decisions.md.

Most scenarios run twice: with the goals created before the data (the incremental path) and
after it (a recompute from the stored data, §4.1 "changing a goal re-evaluates the data"); the
result must be the same (§4.5, §6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import (
    achievements,
    batch,
    create,
    goal,
    metric,
    msg,
    ok,
    report,
    same_after_recompute,
)
from tests.goals.test_audit_scenarios import put, seg

pytestmark = pytest.mark.django_db(transaction=True)

GOAL_FIRST = pytest.mark.parametrize("goal_first", [True, False], ids=["goal-first", "data-first"])


def in_order(goal_first: bool, make_goals: Callable[[], Any], ingest: Callable[[], Any]) -> Any:
    """Create the goals and ingest the data in the order the test is run with."""
    if goal_first:
        goals = make_goals()
        ingest()
        return goals
    ingest()
    return make_goals()


def day_of(api: APIClient, goal_id: int) -> set[tuple[str, int]]:
    """(person, day of month) of every achievement of the goal."""
    return {(a["person"], int(a["achieved_at"][8:10])) for a in achievements(api, goal_id)}


def event_item(person: str, name: str, ts: str, data: Any = None) -> dict[str, Any]:
    item = {"type": "event", "person": person, "name": name, "timestamp": ts}
    if data is not None:
        item["data"] = data
    return item


# --- event trigger: every operator -----------------------------------------------------------

EVENT_DATA: dict[str, Any] = {
    "n5": {"a": {"b": 5}},
    "s5": {"a": {"b": "5"}},
    "s5.0": {"a": {"b": "5.0"}},
    "n10": {"a": {"b": 10}},
    "abc": {"a": {"b": "abc"}},
    "null": {"a": {"b": None}},  # null is no value: it does not exist
    "no-b": {"a": {}},
    "true": {"a": {"b": True}},
    "list": {"a": {"b": [1, 5, "x"]}},
    "xabcx": {"a": {"b": "xabcx"}},
    "no-a": {},
    "a-num": {"a": 5},  # a.b cannot be read through a number
    "false": {"a": {"b": False}},
    "n0": {"a": {"b": 0}},
    "s-true": {"a": {"b": "true"}},
    "s12.50": {"a": {"b": " 12.50"}},
    "s-3": {"a": {"b": "-3"}},
    "obj": {"a": {"b": {"c": 1}}},
}
MISSING = {"null", "no-b", "no-a", "a-num"}
FIVES = {"n5", "s5", "s5.0"}


def b(op: str, value: Any = None) -> dict[str, Any]:
    condition = {"key": "a.b", "op": op}
    return condition if value is None else {**condition, "value": value}


OPERATOR_CASES: dict[str, tuple[list[dict[str, Any]], set[str]]] = {
    "eq 5": ([b("eq", 5)], FIVES),
    'eq "5"': ([b("eq", "5")], FIVES),
    "neq 5 (missing keys match)": ([b("neq", 5)], set(EVENT_DATA) - FIVES),
    "gt 5": ([b("gt", 5)], {"n10", "s12.50"}),
    "gte 5": ([b("gte", 5)], FIVES | {"n10", "s12.50"}),
    "lt 5 (missing keys do not)": ([b("lt", 5)], {"n0", "s-3"}),
    "lte 5": ([b("lte", 5)], FIVES | {"n0", "s-3"}),
    'gt "-4"': ([b("gt", "-4")], FIVES | {"n10", "n0", "s12.50", "s-3"}),
    "contains abc (substring)": ([b("contains", "abc")], {"abc", "xabcx"}),
    "contains x (list and string)": ([b("contains", "x")], {"list", "xabcx"}),
    "contains 5 (list element)": ([b("contains", 5)], {"list"}),
    "exists": ([b("exists")], set(EVENT_DATA) - MISSING),
    "not_exists": ([b("not_exists")], MISSING),
    "eq true (not the text)": ([b("eq", True)], {"true"}),
    "eq false": ([b("eq", False)], {"false"}),
    "eq abc (whole value)": ([b("eq", "abc")], {"abc"}),
    "eq ABC (case matters)": ([b("eq", "ABC")], set()),
    "gte 5 and lte 5": ([b("gte", 5), b("lte", 5)], FIVES),
    "deeper path": ([{"key": "a.b.c", "op": "eq", "value": 1}], {"obj"}),
}


@GOAL_FIRST
def test_event_trigger_operators_on_dotted_paths(
    api: APIClient, workspace: Workspace, goal_first: bool
) -> None:
    def make_goals() -> dict[str, int]:
        return {
            label: goal(
                api,
                name=label,
                criteria={"trigger": {"type": "event", "name": "op", "conditions": conditions}},
            )["id"]
            for label, (conditions, _) in OPERATOR_CASES.items()
        }

    def ingest() -> None:
        batch(
            api,
            *(
                event_item(person, "op", f"2026-01-{i:02d}T10:00:00Z", data)
                for i, (person, data) in enumerate(EVENT_DATA.items(), start=1)
            ),
            event_item("other-name", "Op", "2026-01-20T10:00:00Z", {"a": {"b": 5}}),
        )

    goals = in_order(goal_first, make_goals, ingest)
    got = {label: {a["person"] for a in achievements(api, g)} for label, g in goals.items()}
    assert got == {label: matching for label, (_, matching) in OPERATOR_CASES.items()}


def test_a_null_condition_value_is_refused_pointing_to_not_exists(
    api: APIClient, workspace: Workspace
) -> None:
    response = api.post(
        "/api/v1/goals",
        {"name": "G", "criteria": {"trigger": {"type": "event", "name": "op",
                                               "conditions": [{**b("eq"), "value": None}]}}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "not_exists" in response.json()["errors"]["criteria.trigger.conditions.0.value"][0]


# --- attribute trigger ------------------------------------------------------------------------

ATTRIBUTE_TRIGGERS: dict[str, dict[str, Any]] = {
    "plan eq pro": {"key": "plan", "op": "eq", "value": "pro"},
    "plan neq pro": {"key": "plan", "op": "neq", "value": "pro"},
    "score gt 10": {"key": "score", "op": "gt", "value": 10},
    'score lte "2"': {"key": "score", "op": "lte", "value": "2"},
    "vip exists": {"key": "vip", "op": "exists"},
    "churned not_exists": {"key": "churned", "op": "not_exists"},
    "tags contains x": {"key": "tags", "op": "contains", "value": "x"},
    "address.city eq Berlin": {"key": "address.city", "op": "eq", "value": "Berlin"},
}
# (person, day, patch), sent in this order; E and F send an earlier change late.
ATTRIBUTE_CHANGES: list[tuple[str, int, dict[str, Any]]] = [
    ("A", 1, {"plan": "trial"}), ("A", 2, {"plan": "pro"}), ("A", 3, {"plan": "pro"}),
    ("A", 4, {"plan": "basic"}), ("A", 5, {"plan": "pro"}), ("A", 6, {"plan": None}),
    ("A", 7, {"plan": "pro"}),
    ("B", 1, {"plan": "pro"}),
    ("C", 2, {"country": "DE"}), ("C", 3, {"plan": "pro"}),
    ("E", 5, {"plan": "pro"}), ("E", 2, {"plan": "trial"}),
    ("F", 5, {"plan": "pro"}), ("F", 2, {"plan": "pro"}),
    ("G", 1, {"country": "DE"}), ("G", 2, {"plan": "pro"}), ("G", 3, {"plan": "basic"}),
    ("H", 1, {"score": 5}), ("H", 2, {"score": 15}), ("H", 3, {"score": 20}),
    ("H", 4, {"score": "3"}), ("H", 5, {"score": "11"}), ("H", 6, {"score": "abc"}),
    ("H", 7, {"score": 1}),
    ("I", 1, {"vip": True}), ("I", 2, {"vip": None}), ("I", 3, {"vip": False}),
    ("J", 1, {"churned": 1}), ("J", 2, {"churned": None}),
    ("K", 1, {"tags": ["a"]}), ("K", 2, {"tags": ["a", "x"]}), ("K", 3, {"tags": ["x"]}),
    ("K", 4, {"tags": "xyz"}),
    ("L", 1, {"address": {"city": "Berlin"}}), ("L", 2, {"address": {"zip": 1}}),
    ("L", 3, {"address": {"city": "Berlin", "zip": 1}}),
]  # fmt: skip
ATTRIBUTE_EXPECTED: dict[str, set[tuple[str, int]]] = {
    # Only a change from not matching to matching; the same value again is nothing new; a
    # removed key (null) and back is; a late earlier change moves the achievement (E, F).
    "plan eq pro": {("A", 2), ("A", 5), ("A", 7), ("B", 1), ("C", 3), ("E", 5), ("F", 2),
                    ("G", 2)},
    # "No attributes" already matches neq: a first write that keeps matching is no change.
    "plan neq pro": {("A", 4), ("A", 6), ("G", 3)},
    "score gt 10": {("H", 2), ("H", 5)},
    'score lte "2"': {("H", 7)},  # "abc" is text: no order against a number
    "vip exists": {("I", 1), ("I", 3)},  # false is a value
    "churned not_exists": {("J", 2)},
    "tags contains x": {("K", 2)},  # ["x"] and "xyz" keep matching
    # Merge is shallow: {"zip": 1} replaces the address.
    "address.city eq Berlin": {("L", 1), ("L", 3)},
}  # fmt: skip


@GOAL_FIRST
def test_attribute_trigger_fires_on_a_change_to_matching(
    api: APIClient, workspace: Workspace, goal_first: bool
) -> None:
    def make_goals() -> dict[str, int]:
        return {
            label: goal(api, name=label, criteria={"trigger": {"type": "attribute", **trigger}})[
                "id"
            ]
            for label, trigger in ATTRIBUTE_TRIGGERS.items()
        }

    def ingest() -> None:
        for person, day, patch in ATTRIBUTE_CHANGES:
            put(api, person, f"2026-02-{day:02d}T10:00:00Z", **patch)

    goals = in_order(goal_first, make_goals, ingest)
    assert {label: day_of(api, g) for label, g in goals.items()} == ATTRIBUTE_EXPECTED


def test_attribute_changes_around_the_tracking_start_and_a_put_without_time(
    api: APIClient, workspace: Workspace
) -> None:
    """The achievement time is the change's time: the PUT's `timestamp`, or the time it was
    received without one (README, decisions.md "Attribute history")."""
    on_pro = goal(
        api, criteria={"trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}}
    )["id"]
    put(api, "before", "2025-10-15T00:00:00Z", plan="pro")  # before the start: never counts
    put(api, "before", "2025-11-05T00:00:00Z", plan="pro")  # the same value: not new
    put(api, "at-start", "2025-10-15T00:00:00Z", plan="trial")
    put(api, "at-start", "2025-11-01T00:00:00Z", plan="pro")  # exactly at the start
    put(api, "back", "2025-10-31T23:59:59Z", plan="pro")
    put(api, "back", "2025-11-10T00:00:00Z", plan="basic")
    put(api, "back", "2025-11-12T00:00:00Z", plan="pro")
    assert sorted((a["person"], a["achieved_at"]) for a in achievements(api, on_pro)) == [
        ("at-start", "2025-11-01T00:00:00Z"),
        ("back", "2025-11-12T00:00:00Z"),
    ]
    before = timezone.now()
    ok(api.put("/api/v1/people/now", {"attributes": {"plan": "pro"}}, format="json"), 201)
    after = timezone.now()
    [row] = [a for a in achievements(api, on_pro) if a["person"] == "now"]
    assert before <= datetime.fromisoformat(row["achieved_at"]) <= after
    same_after_recompute(api, on_pro)


# --- segment trigger and filters at the moment of the achievement -------------------------------


@GOAL_FIRST
def test_segment_trigger_and_filters_read_the_moment_of_the_achievement(
    api: APIClient, workspace: Workspace, goal_first: bool
) -> None:
    s, s2, s3 = (create(api, "/api/v1/segments", {"name": n})["id"] for n in ("S", "S2", "S3"))

    def t(day: int) -> str:
        return f"2026-03-{day:02d}T10:00:00Z"

    def make_goals() -> tuple[int, int]:
        on_enter = goal(api, criteria={"trigger": {"type": "segment", "segment": s}})["id"]
        filtered = goal(
            api,
            criteria={
                "trigger": {"type": "event", "name": "buy"},
                "filters": [
                    {"type": "attribute", "key": "country", "op": "eq", "value": "DE"},
                    {"type": "segment", "segment": s2, "in": True},
                    {"type": "segment", "segment": s3, "in": False},
                ],
            },
        )["id"]
        return on_enter, filtered

    def buy(person: str, day: int) -> None:
        batch(api, event_item(person, "buy", t(day)))

    def ingest() -> None:
        # Entering achieves; entering again while inside does not; leave and re-enter does.
        for action, day in (("enter", 1), ("enter", 2), ("leave", 3), ("enter", 4)):
            seg(api, "p1", s, action, t(day))
        seg(api, "p2", s, "leave", t(1))
        seg(api, "p2", s, "enter", t(2))
        seg(api, "p3", s, "enter", "2025-10-20T00:00:00Z")  # before the tracking start
        seg(api, "p3", s, "leave", t(3))
        seg(api, "p3", s, "enter", t(5))
        seg(api, "p4", s, "enter", t(4))  # then an earlier stay arrives late
        seg(api, "p4", s, "enter", t(1))
        seg(api, "p4", s, "leave", t(2))
        seg(api, "p5", s, "enter", "2025-10-20T00:00:00Z")
        seg(api, "p5", s, "enter", t(5))  # still inside: nothing new
        # Filters: every one must hold when the event happens.
        put(api, "q1", t(1), country="DE")
        seg(api, "q1", s2, "enter", t(1))
        buy("q1", 3)  # counts
        put(api, "q1", t(4), country="FR")
        buy("q1", 5)  # FR
        put(api, "q1", t(6), country="DE")
        seg(api, "q1", s2, "leave", t(6))
        buy("q1", 7)  # not in S2
        seg(api, "q1", s3, "enter", t(8))
        seg(api, "q1", s2, "enter", t(8))
        buy("q1", 9)  # in S3
        seg(api, "q1", s3, "leave", t(10))
        buy("q1", 11)  # counts
        buy("q2", 3)  # its filters' data arrive after it, with earlier times: counts
        seg(api, "q2", s2, "enter", t(2))
        put(api, "q2", t(1), country="DE")
        put(api, "q3", t(1), country="DE")
        buy("q3", 3)
        seg(api, "q3", s2, "enter", t(4))  # entered after the event: no
        put(api, "q4", t(1), country="DE")
        seg(api, "q4", s2, "enter", t(1))
        seg(api, "q4", s2, "leave", t(2))  # left before the event: no
        buy("q4", 3)
        put(api, "q5", t(1), country="DE")
        seg(api, "q5", s2, "enter", t(1))
        buy("q5", 3)
        put(api, "q5", t(4), country="FR")  # a change after the event does not matter
        put(api, "q7", t(1), country="FR")
        put(api, "q7", t(4), country="DE")  # DE only after the event: no
        seg(api, "q7", s2, "enter", t(1))
        buy("q7", 3)

    on_enter, filtered = in_order(goal_first, make_goals, ingest)
    assert day_of(api, on_enter) == {("p1", 1), ("p1", 4), ("p2", 2), ("p3", 5), ("p4", 1),
                                     ("p4", 4)}  # fmt: skip
    assert day_of(api, filtered) == {("q1", 3), ("q1", 11), ("q2", 3), ("q5", 3)}
    body = report(api, on_enter, start="2026-03-01", end="2026-03-31")
    assert (body["total_people"], body["achievements"]) == (4, 6)


def test_late_segment_and_attribute_changes_move_or_remove_achievements(
    api: APIClient, workspace: Workspace
) -> None:
    s = create(api, "/api/v1/segments", {"name": "S"})["id"]
    s2 = create(api, "/api/v1/segments", {"name": "S2"})["id"]
    filtered = goal(
        api,
        criteria={
            "trigger": {"type": "event", "name": "buy"},
            "filters": [
                {"type": "segment", "segment": s, "in": True},
                {"type": "attribute", "key": "c", "op": "eq", "value": "DE"},
            ],
        },
    )["id"]
    on_enter = goal(api, criteria={"trigger": {"type": "segment", "segment": s2}})["id"]

    def t(day: int) -> str:
        return f"2026-10-{day:02d}T10:00:00Z"

    for person in ("a", "b"):
        put(api, person, t(1), c="DE")
        seg(api, person, s, "enter", t(1))
        batch(api, event_item(person, "buy", t(3)), event_item(person, "buy", t(5)))
    assert day_of(api, filtered) == {("a", 3), ("a", 5), ("b", 3), ("b", 5)}
    seg(api, "a", s, "leave", t(4))
    put(api, "b", t(2), c="FR")
    assert day_of(api, filtered) == {("a", 3)}
    put(api, "b", t(4), c="DE")
    assert day_of(api, filtered) == {("a", 3), ("b", 5)}

    seg(api, "c", s2, "enter", t(5))
    assert day_of(api, on_enter) == {("c", 5)}
    seg(api, "c", s2, "enter", t(2))  # an earlier entry: the later one is no longer new
    assert day_of(api, on_enter) == {("c", 2)}
    seg(api, "c", s2, "leave", t(3))  # ... until a leave in between arrives
    assert day_of(api, on_enter) == {("c", 2), ("c", 5)}
    same_after_recompute(api, filtered, on_enter)


def test_filters_on_attribute_and_segment_triggers(api: APIClient, workspace: Workspace) -> None:
    s = create(api, "/api/v1/segments", {"name": "S"})["id"]
    s2 = create(api, "/api/v1/segments", {"name": "S2"})["id"]
    pro = {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    de = {"type": "attribute", "key": "country", "op": "eq", "value": "DE"}
    attr_de = goal(api, criteria={"trigger": pro, "filters": [de]})["id"]
    enter_in = goal(
        api,
        criteria={"trigger": {"type": "segment", "segment": s},
                  "filters": [{"type": "segment", "segment": s, "in": True}]},
    )["id"]  # fmt: skip
    enter_out = goal(
        api,
        criteria={"trigger": {"type": "segment", "segment": s},
                  "filters": [{"type": "segment", "segment": s, "in": False}]},
    )["id"]  # fmt: skip
    enter_de_s2 = goal(
        api,
        criteria={"trigger": {"type": "segment", "segment": s},
                  "filters": [de, {"type": "segment", "segment": s2, "in": True}]},
    )["id"]  # fmt: skip
    attr_not_s2 = goal(
        api,
        criteria={"trigger": pro, "filters": [{"type": "segment", "segment": s2, "in": False}]},
    )["id"]

    def t(day: int) -> str:
        return f"2026-09-{day:02d}T10:00:00Z"

    put(api, "a", t(1), plan="pro", country="DE")
    put(api, "b", t(1), country="DE")
    put(api, "b", t(2), plan="pro", country="FR")  # the filter reads the same change's FR
    put(api, "b", t(3), plan="free")
    put(api, "b", t(4), plan="pro", country="DE")
    for action, day in (("enter", 1), ("leave", 2), ("enter", 3)):
        seg(api, "c", s, action, t(day))
    put(api, "d", t(1), country="DE")
    seg(api, "d", s2, "enter", t(2))
    for action, day in (("enter", 1), ("leave", 2), ("enter", 3)):
        seg(api, "d", s, action, t(day))
    seg(api, "e", s2, "enter", t(1))
    put(api, "e", t(2), plan="pro")
    seg(api, "e", s2, "leave", t(3))
    put(api, "e", t(4), plan="x")
    put(api, "e", t(5), plan="pro")
    assert day_of(api, attr_de) == {("a", 1), ("b", 4)}
    assert day_of(api, enter_in) == {("c", 1), ("c", 3), ("d", 1), ("d", 3)}
    assert day_of(api, enter_out) == set()
    assert day_of(api, enter_de_s2) == {("d", 3)}
    assert day_of(api, attr_not_s2) == {("a", 1), ("b", 2), ("b", 4), ("e", 5)}
    same_after_recompute(api, attr_de, enter_in, enter_de_s2, attr_not_s2)


# --- message trigger ----------------------------------------------------------------------------


@GOAL_FIRST
def test_message_trigger_metrics_chain_restrictions_and_machine_opens(
    api: APIClient, workspace: Workspace, goal_first: bool
) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C", "status": "running"})["id"]
    c2 = create(api, "/api/v1/campaigns", {"name": "C2", "status": "draft"})["id"]
    news = create(
        api, "/api/v1/broadcasts",
        {"name": "News", "kind": "newsletter", "status": "sent", "channels": ["email", "push"]},
    )["id"]  # fmt: skip
    api_b = create(
        api, "/api/v1/broadcasts",
        {"name": "API", "kind": "api_triggered", "status": "sent", "channels": ["push"]},
    )["id"]  # fmt: skip
    triggers: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "opened": ({"metric": "opened"}, {}),
        "opened, humans only": ({"metric": "opened"}, {"count_machine": False}),
        "clicked from C": ({"metric": "clicked", "campaign": c}, {}),
        "delivered from News": ({"metric": "delivered", "broadcast": news}, {}),
        "sent on push": ({"metric": "sent", "channel": "push"}, {}),
        "delivered": ({"metric": "delivered"}, {}),
    }

    def t(day: int, hour: int) -> str:
        return f"2026-04-{day:02d}T{hour:02d}:00:00Z"

    def make_goals() -> dict[str, int]:
        return {
            label: goal(
                api,
                name=label,
                criteria={"trigger": {"type": "message", **trigger}},
                attribution=settings,
            )["id"]
            for label, (trigger, settings) in triggers.items()
        }

    def metrics(message: str, *items: tuple[str, str, bool | None]) -> None:
        for name, ts, machine in items:
            assert metric(api, message, name, ts, machine).status_code in (201, 202)

    def ingest() -> None:
        msg(api, "m1", "a", "email", t(1, 8), campaign=c)  # clicked, no open recorded
        metrics("m1", ("delivered", t(1, 9), None), ("clicked", t(1, 11), None))
        msg(api, "m2", "b", "email", t(2, 8), campaign=c)
        metrics("m2", ("opened", t(2, 9), True), ("opened", t(2, 12), False))
        msg(api, "m3", "c", "sms", t(3, 8), campaign=c)  # an SMS never reaches opened
        metrics("m3", ("delivered", t(3, 9), None), ("clicked", t(3, 10), None))
        msg(api, "m4", None, "in_app", t(4, 8), anonymous=True)  # no person: nothing
        metrics("m4", ("opened", t(4, 9), None))
        msg(api, "m5", "d", "email", t(5, 8))  # transactional
        metrics("m5", ("opened", t(5, 9), None))
        msg(api, "m6", "e", "email", t(6, 8), broadcast=news)  # clicked implies delivered
        metrics("m6", ("clicked", t(6, 10), None))
        msg(api, "m7", "f", "push", t(7, 8), broadcast=api_b)  # sent at its sent_at
        msg(api, "m8", "g", "email", t(8, 8), campaign=c2)  # two messages: two achievements
        metrics("m8", ("opened", t(8, 9), None))
        msg(api, "m9", "g", "email", t(9, 8), campaign=c2)
        metrics("m9", ("opened", t(9, 9), None), ("opened", t(9, 10), None))
        msg(api, "m10", "h", "email", t(10, 8), campaign=c)  # a link scanner's click only
        metrics("m10", ("clicked", t(10, 9), True))
        # Metrics before their message (pending), out of order.
        metrics("m11", ("opened", t(11, 9), None), ("delivered", "2026-04-11T08:30:00Z", None))
        msg(api, "m11", "i", "push", t(11, 8), broadcast=news)
        msg(api, "m12", "j", "push", t(12, 8))
        metrics("m12", ("sent", t(12, 7), None))  # a recorded sent before sent_at wins
        msg(api, "m13", "k", "email", "2025-10-30T08:00:00Z", campaign=c)
        metrics("m13", ("delivered", "2025-10-30T09:00:00Z", None))  # before the start
        metrics("m13", ("opened", "2025-11-02T09:00:00Z", None))

    goals = in_order(goal_first, make_goals, ingest)
    got = {
        label: sorted((a["trigger"]["client_id"], a["achieved_at"][5:16])
                      for a in achievements(api, g))
        for label, g in goals.items()
    }  # fmt: skip
    assert got == {
        "opened": [("m1", "04-01T11:00"), ("m10", "04-10T09:00"), ("m11", "04-11T09:00"),
                   ("m13", "11-02T09:00"), ("m2", "04-02T09:00"), ("m5", "04-05T09:00"),
                   ("m6", "04-06T10:00"), ("m8", "04-08T09:00"), ("m9", "04-09T09:00")],
        "opened, humans only": [("m1", "04-01T11:00"), ("m11", "04-11T09:00"),
                                ("m13", "11-02T09:00"), ("m2", "04-02T12:00"),
                                ("m5", "04-05T09:00"), ("m6", "04-06T10:00"),
                                ("m8", "04-08T09:00"), ("m9", "04-09T09:00")],
        "clicked from C": [("m1", "04-01T11:00"), ("m10", "04-10T09:00"), ("m3", "04-03T10:00")],
        "delivered from News": [("m11", "04-11T08:30"), ("m6", "04-06T10:00")],
        "sent on push": [("m11", "04-11T08:00"), ("m12", "04-12T07:00"), ("m7", "04-07T08:00")],
        "delivered": [("m1", "04-01T09:00"), ("m10", "04-10T09:00"), ("m11", "04-11T08:30"),
                      ("m2", "04-02T09:00"), ("m3", "04-03T09:00"), ("m5", "04-05T09:00"),
                      ("m6", "04-06T10:00"), ("m8", "04-08T09:00"), ("m9", "04-09T09:00")],
    }  # fmt: skip
    body = report(api, goals["opened"], start="2026-04-01", end="2026-04-30")
    assert (body["total_people"], body["achievements"]) == (7, 8)


def test_message_trigger_with_channel_and_campaign_and_filters(
    api: APIClient, workspace: Workspace
) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})["id"]
    s = create(api, "/api/v1/segments", {"name": "S"})["id"]
    sms_from_c = goal(
        api,
        criteria={"trigger": {"type": "message", "metric": "delivered", "channel": "sms",
                              "campaign": c}},
    )["id"]  # fmt: skip
    filtered = goal(
        api,
        criteria={
            "trigger": {"type": "message", "metric": "opened", "campaign": c},
            "filters": [
                {"type": "attribute", "key": "tier", "op": "gte", "value": 2},
                {"type": "segment", "segment": s, "in": False},
            ],
        },
    )["id"]

    def t(day: int, hour: int) -> str:
        return f"2026-06-{day:02d}T{hour:02d}:00:00Z"

    msg(api, "sms-c", "a", "sms", t(1, 8), campaign=c)
    msg(api, "email-c", "a", "email", t(1, 8), campaign=c)
    msg(api, "sms-tx", "a", "sms", t(1, 8))
    for message in ("sms-c", "email-c", "sms-tx"):
        ok(metric(api, message, "delivered", t(1, 9)), 201)
    ok(metric(api, "email-c", "opened", t(1, 10)), 201)  # a has no tier: filtered out
    put(api, "b", t(1, 0), tier=1)
    put(api, "b", t(3, 0), tier=3)
    msg(api, "tier1", "b", "email", t(2, 8), campaign=c)
    ok(metric(api, "tier1", "opened", t(2, 9)), 201)
    msg(api, "tier3", "b", "email", t(4, 8), campaign=c)
    ok(metric(api, "tier3", "opened", t(4, 9)), 201)
    seg(api, "b", s, "enter", t(5, 0))
    msg(api, "in-s", "b", "email", t(6, 8), campaign=c)
    ok(metric(api, "in-s", "opened", t(6, 9)), 201)
    # A later click does not move tier1's moment (it was opened on the 2nd, tier 1).
    ok(metric(api, "tier1", "clicked", t(4, 10)), 201)
    assert [a["trigger"]["client_id"] for a in achievements(api, sms_from_c)] == ["sms-c"]
    assert [a["trigger"]["client_id"] for a in achievements(api, filtered)] == ["tier3"]
    same_after_recompute(api, sms_from_c, filtered)


def test_message_trigger_time_moves_to_an_earlier_late_metric(
    api: APIClient, workspace: Workspace
) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})["id"]
    trigger = {"trigger": {"type": "message", "metric": "opened", "campaign": c}}
    anyone = goal(api, criteria=trigger)["id"]
    humans = goal(api, criteria=trigger, attribution={"count_machine": False})["id"]

    def t(day: int, hour: int) -> str:
        return f"2026-07-{day:02d}T{hour:02d}:00:00Z"

    msg(api, "m1", "a", "email", t(1, 8), campaign=c)
    ok(metric(api, "m1", "opened", t(1, 12)), 201)
    ok(metric(api, "m1", "clicked", t(1, 10)), 201)  # an earlier click implies an open
    msg(api, "m2", "b", "email", t(2, 8), campaign=c)
    ok(metric(api, "m2", "clicked", t(2, 11)), 201)
    ok(metric(api, "m2", "opened", t(2, 9), machine=True), 201)
    msg(api, "m3", "c", "push", t(3, 8), campaign=c)
    ok(metric(api, "m3", "clicked", t(3, 11), machine=True), 201)
    ok(metric(api, "m3", "opened", t(3, 12)), 201)

    def got(g: int) -> list[tuple[str, str]]:
        return sorted((a["person"], a["achieved_at"]) for a in achievements(api, g))

    assert got(anyone) == [("a", t(1, 10)), ("b", t(2, 9)), ("c", t(3, 11))]
    assert got(humans) == [("a", t(1, 10)), ("b", t(2, 11)), ("c", t(3, 12))]
    same_after_recompute(api, anyone, humans)


# --- impact -------------------------------------------------------------------------------------


@GOAL_FIRST
def test_impact_per_trigger_kind_and_from_an_event_key(
    api: APIClient, workspace: Workspace, goal_first: bool
) -> None:
    s = create(api, "/api/v1/segments", {"name": "S"})["id"]
    values: list[Any] = [10, "12.50", "<missing>", "abc", 1.005, -5, "1e3", True, {"x": 1}, "",
                         0.1, 0.2]  # fmt: skip

    def t(day: int) -> str:
        return f"2026-05-{day:02d}T10:00:00Z"

    def make_goals() -> dict[str, int]:
        return {
            "event key": goal(
                api,
                criteria={"trigger": {"type": "event", "name": "buy"}},
                impact={"currency": "EUR", "event_key": "order.total"},
            )["id"],
            "segment": goal(
                api,
                criteria={"trigger": {"type": "segment", "segment": s}},
                impact={"currency": "JPY", "static": "500"},
            )["id"],
            "attribute": goal(
                api,
                criteria={
                    "trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
                },
                impact={"currency": "KWD", "static": "1.234"},
            )["id"],
            "message": goal(
                api,
                criteria={"trigger": {"type": "message", "metric": "sent", "channel": "slack"}},
                impact={"currency": "USD", "static": "0.10"},
            )["id"],
        }

    def ingest() -> None:
        batch(
            api,
            *(
                event_item(f"e{i}", "buy", t(1 + i),
                           {"order": {} if v == "<missing>" else {"total": v}})
                for i, v in enumerate(values)
            ),
        )  # fmt: skip
        for action, day in (("enter", 1), ("leave", 2), ("enter", 3)):
            seg(api, "s", s, action, t(day))
        seg(api, "s2", s, "enter", t(3))
        for day, plan in ((1, "pro"), (2, "x"), (3, "pro")):
            put(api, "a", t(day), plan=plan)
        for i in range(3):
            msg(api, f"slack-{i}", "m", "slack", t(4 + i))

    goals = in_order(goal_first, make_goals, ingest)

    def summary(g: int) -> tuple[Any, ...]:
        body = report(api, g, start="2026-05-01", end="2026-05-31")
        return (body["total_people"], body["achievements"], body["impact"],
                body["revenue_missing_achievements"])  # fmt: skip

    # 10 + 12.50 + 1.005 - 5 + 1000 + 0.1 + 0.2, exactly; missing, text, true, an object and
    # "" count with 0 and are reported.
    assert summary(goals["event key"]) == (12, 12, {"amount": "1018.805", "currency": "EUR"}, 5)
    assert summary(goals["segment"]) == (2, 3, {"amount": "1500", "currency": "JPY"}, 0)
    assert summary(goals["attribute"]) == (1, 2, {"amount": "2.468", "currency": "KWD"}, 0)
    assert summary(goals["message"]) == (1, 3, {"amount": "0.30", "currency": "USD"}, 0)
    rows = {a["person"]: (a["revenue"], a["revenue_missing"])
            for a in achievements(api, goals["event key"])}  # fmt: skip
    assert rows == {
        "e0": ("10.00", False), "e1": ("12.50", False), "e2": ("0.00", True),
        "e3": ("0.00", True), "e4": ("1.005", False), "e5": ("-5.00", False),
        "e6": ("1000.00", False), "e7": ("0.00", True), "e8": ("0.00", True),
        "e9": ("0.00", True), "e10": ("0.10", False), "e11": ("0.20", False),
    }  # fmt: skip

    # Changing the impact or the criteria recomputes, and the report follows.
    g = goals["event key"]
    ok(api.patch(f"/api/v1/goals/{g}", {"impact": {"currency": "EUR", "static": "2"}},
                 format="json"))  # fmt: skip
    assert summary(g) == (12, 12, {"amount": "24.00", "currency": "EUR"}, 0)
    ok(api.patch(f"/api/v1/goals/{g}", {"impact": None}, format="json"))
    assert summary(g) == (12, 12, None, 0)
    over_one = {
        "trigger": {
            "type": "event",
            "name": "buy",
            "conditions": [{"key": "order.total", "op": "gt", "value": 1}],
        }
    }
    ok(
        api.patch(
            f"/api/v1/goals/{g}",
            {"criteria": over_one, "impact": {"currency": "EUR", "event_key": "order.total"}},
            format="json",
        )
    )
    # gt 1: 10, "12.50", 1.005, "1e3".
    assert summary(g) == (4, 4, {"amount": "1023.505", "currency": "EUR"}, 0)


def test_paths_walk_objects_only_and_event_amounts_keep_six_decimals(
    api: APIClient, workspace: Workspace
) -> None:
    """decisions.md "Operators" and "Impact from an event key"."""
    by_index = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy",
                              "conditions": [{"key": "items.0.sku", "op": "exists"}]}},
    )["id"]  # fmt: skip
    dotted = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy",
                              "conditions": [{"key": "a.b", "op": "exists"}]}},
    )["id"]  # fmt: skip
    priced = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "event_key": "v"},
    )["id"]
    batch(
        api,
        event_item("list", "buy", "2026-09-01T10:00:00Z", {"items": [{"sku": 1}], "a.b": 1}),
        *(
            event_item(f"v{i}", "buy", "2026-09-01T10:00:00Z", {"v": v})
            for i, v in enumerate(["0.0000005", "0.0000015", "2.5000005"])
        ),
    )
    assert achievements(api, by_index) == achievements(api, dotted) == []
    revenue = {a["person"]: a["revenue"] for a in achievements(api, priced)}
    assert revenue == {"list": "0.00", "v0": "0.00", "v1": "0.000002", "v2": "2.50"}
    body = report(api, priced, start="2026-09-01", end="2026-09-01")
    assert body["impact"] == {"amount": "2.500002", "currency": "EUR"}
    assert body["revenue_missing_achievements"] == 1


def test_a_message_trigger_moment_moves_with_late_metrics_and_its_filters_follow(
    api: APIClient, workspace: Workspace
) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})["id"]
    s = create(api, "/api/v1/segments", {"name": "S"})["id"]
    criteria = {
        "trigger": {"type": "message", "metric": "opened", "campaign": c},
        "filters": [
            {"type": "attribute", "key": "tier", "op": "gte", "value": 2},
            {"type": "segment", "segment": s, "in": True},
        ],
    }
    g = goal(api, criteria=criteria, attribution={"count_machine": False})["id"]

    def t(day: int, hour: int = 10) -> str:
        return f"2026-08-{day:02d}T{hour:02d}:00:00Z"

    def moments(goal_id: int) -> list[str]:
        return [a["achieved_at"] for a in achievements(api, goal_id)]

    put(api, "a", t(1), tier=1)
    seg(api, "a", s, "enter", t(1))
    msg(api, "m1", "a", "email", t(2, 8), campaign=c)
    ok(metric(api, "m1", "opened", t(5)), 201)
    assert moments(g) == []  # tier 1 on the 5th
    put(api, "a", t(4), tier=3)  # late: tier 3 from the 4th
    assert moments(g) == [t(5)]
    ok(metric(api, "m1", "clicked", t(3)), 201)  # late: opened on the 3rd, at tier 1
    assert moments(g) == []
    ok(metric(api, "m1", "opened", t(2, 9), machine=True), 201)  # a machine's: not counted
    seg(api, "a", s, "leave", t(2, 12))
    seg(api, "a", s, "enter", t(4, 12))
    put(api, "a", t(2, 11), tier=5)  # tier 5 on the 3rd, but outside S then
    assert moments(g) == []
    seg(api, "a", s, "enter", t(3, 9))  # back in S before the open on the 3rd
    assert moments(g) == [t(3)]
    same_after_recompute(api, g)
