"""The report API (SPEC §5, §7) against an independent oracle, with hypothesis.

``oracle_report`` is written from the spec's words alone (and the report decisions of
``docs/decisions.md``), never from ``goals.reports``: given a goal's achievements (person key,
instant, revenue, missing flag, credited source or none), the workspace's zone, a range of
inclusive local dates and a period, it computes every number of the JSON report:

* a local day is the achievement instant's calendar date in the workspace's zone (SPEC §2);
  a week is the ISO week, Monday first, labelled by its Monday (decisions: "which may precede
  ``start``; the first and last weeks count only days inside the range"; every period listed);
* ``total_people``: unique people with at least one achievement in the range;
  ``achievements``: achievements in the range; ``impact``: their revenue summed;
* ``progress``: per period, ``people`` are the people whose *first* achievement in the range
  falls in it (so the bars add up to the total), ``cumulative_people`` its running sum,
  ``achievements`` and ``revenue`` everything achieved in the period;
* ``by_source``: per goal source (deleted ones too, marked), over the range: unique people,
  achievements and revenue credited to it; per period: the unique people credited in that
  period (decisions: "distinct per period; a person credited in two weeks counts in both") and
  the revenue; and the same for a source that is no longer the goal's but which achievements
  in the range are still credited to (its removal's recompute is not done, and readers keep
  the last complete result, SPEC §6);
* ``unattributed``: the same for achievements credited to no source.

Money is compared as exact Decimals; the strings must all carry one number of decimals: the
currency's ISO 4217 minor unit, widened only as far as some amount needs (decisions).

Each example is checked on both of the report's paths (from the achievements, before the
version has a rollup; from ``GoalRollup`` after ``engine.build_rollup``), after incremental
changes applied the way ``engine.apply_people`` applies them (``rollup_units`` of the touched
person before and after, ``_rollup_apply`` of the difference) in random order, and end to end
through ingestion (events and messages in random order, the engine's own local days, credits
and incremental rollup). The CSV export must hold the JSON's numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Broadcast, Campaign
from goals import engine
from goals.engine import rollup
from goals.models import Achievement, Goal
from tests.goals import helpers
from tests.goals.test_engine import event, message, metric
from tests.goals.test_reports import achieve, add_source, make_goal

# --- the oracle ---------------------------------------------------------------------------------

Source = tuple[str, int]  # ("campaign" | "broadcast", id)


@dataclass(frozen=True)
class Ach:
    """One achievement as the report sees it."""

    person: str
    at: datetime  # an aware instant
    revenue: Decimal
    missing: bool
    source: Source | None  # the credited source, None when no source earned it
    uid: int = 0  # tells otherwise equal achievements apart (the oracle ignores it)


@dataclass(frozen=True)
class GoalSourceInfo:
    type: str
    id: int
    name: str
    deleted: bool


#: ISO 4217 minor units of the currencies the tests use ("" is a goal without impact).
MINOR_UNITS = {"EUR": 2, "JPY": 0, "KWD": 3, "": 2}


def _periods(start: date, end: date, period: str) -> list[date]:
    if period == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    monday = start - timedelta(days=start.isoweekday() - 1)
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _bucket(day: date, period: str) -> date:
    if period == "day":
        return day
    year, week, _ = day.isocalendar()
    return date.fromisocalendar(year, week, 1)


def _credited_to(source: Source, a: Ach) -> bool:
    return a.source == source


def oracle_report(
    achievements: Iterable[Ach],
    *,
    zone: str,
    start: date,
    end: date,
    period: str,
    currency: str,
    sources: list[GoalSourceInfo],
    others: Iterable[GoalSourceInfo] = (),
) -> dict[str, Any]:
    """The report of SPEC §7's shape, money as Decimals, ``by_source`` in goal-source order,
    then those of ``others`` (sources no longer the goal's) that achievements in the range are
    credited to."""
    tz = ZoneInfo(zone)
    periods = _periods(start, end, period)
    in_range = []
    for a in achievements:
        day = a.at.astimezone(tz).date()
        if start <= day <= end:
            in_range.append((a, day, _bucket(day, period)))
    assert all(b in periods for _, _, b in in_range)

    first_day: dict[str, date] = {}
    for a, day, _ in in_range:
        if a.person not in first_day or day < first_day[a.person]:
            first_day[a.person] = day
    new_people: dict[date, int] = defaultdict(int)
    for day in first_day.values():
        new_people[_bucket(day, period)] += 1

    progress, cumulative = [], 0
    for p in periods:
        cumulative += new_people[p]
        mine = [a for a, _, b in in_range if b == p]
        progress.append(
            {
                "period_start": p,
                "people": new_people[p],
                "cumulative_people": cumulative,
                "achievements": len(mine),
                "revenue": sum((a.revenue for a in mine), Decimal(0)),
            }
        )

    def series(keep: Callable[[Ach], bool]) -> dict[str, Any]:
        rows = [(a, b) for a, _, b in in_range if keep(a)]
        return {
            "people": len({a.person for a, _ in rows}),
            "achievements": len(rows),
            "revenue": sum((a.revenue for a, _ in rows), Decimal(0)),
            "progress": [
                {
                    "period_start": p,
                    "people": len({a.person for a, b in rows if b == p}),
                    "achievements": sum(1 for _, b in rows if b == p),
                    "revenue": sum((a.revenue for a, b in rows if b == p), Decimal(0)),
                }
                for p in periods
            ],
        }

    credited = {a.source for a, _, _ in in_range}
    sources = [*sources, *(s for s in others if (s.type, s.id) in credited)]
    total_revenue = sum((a.revenue for a, _, _ in in_range), Decimal(0))
    return {
        "start": start,
        "end": end,
        "period": period,
        "total_people": len(first_day),
        "achievements": len(in_range),
        "impact": {"amount": total_revenue, "currency": currency} if currency else None,
        "revenue_missing_achievements": sum(1 for a, _, _ in in_range if a.missing),
        "progress": progress,
        "by_source": [
            {
                "source": {"type": s.type, "id": s.id, "name": s.name, "deleted": s.deleted},
                **series(partial(_credited_to, (s.type, s.id))),
            }
            for s in sources
        ],
        "unattributed": series(lambda a: a.source is None),
    }


def _amounts(report: dict[str, Any]) -> list[Decimal]:
    found = [p["revenue"] for p in report["progress"]]
    for s in [*report["by_source"], report["unattributed"]]:
        found.append(s["revenue"])
        found.extend(p["revenue"] for p in s["progress"])
    if report["impact"]:
        found.append(report["impact"]["amount"])
    return found


def _places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# --- comparing the API's answers with the oracle ------------------------------------------------

MONEY = re.compile(r"-?\d+(\.(\d+))?")


def _money(text: Any, places: int) -> Decimal:
    assert isinstance(text, str), text
    match = MONEY.fullmatch(text)
    assert match, f"not a decimal string: {text!r}"
    assert len(match.group(2) or "") == places, f"{text!r} should have {places} decimals"
    value = Decimal(text)
    assert not (value == 0 and text.startswith("-")), f"negative zero {text!r}"
    return value


def _parsed(body: dict[str, Any], places: int) -> dict[str, Any]:
    """The JSON body with dates and money parsed, and per-period series achievements kept out
    (the JSON has none)."""

    def periods(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                **r,
                "period_start": date.fromisoformat(r["period_start"]),
                "revenue": _money(r["revenue"], places),
            }
            for r in rows
        ]

    def series(s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "revenue": _money(s["revenue"], places), "progress": periods(s["progress"])}

    impact = body["impact"]
    return {
        **body,
        "start": date.fromisoformat(body["start"]),
        "end": date.fromisoformat(body["end"]),
        "impact": impact and {**impact, "amount": _money(impact["amount"], places)},
        "progress": periods(body["progress"]),
        "by_source": [series(s) for s in body["by_source"]],
        "unattributed": series(body["unattributed"]),
    }


def _without_series_achievements(expected: dict[str, Any]) -> dict[str, Any]:
    def series(s: dict[str, Any]) -> dict[str, Any]:
        return {
            **s,
            "progress": [
                {k: v for k, v in p.items() if k != "achievements"} for p in s["progress"]
            ],
        }

    return {
        **expected,
        "by_source": [series(s) for s in expected["by_source"]],
        "unattributed": series(expected["unattributed"]),
    }


def _key(s: dict[str, Any]) -> tuple[str, int]:
    return (s["source"]["type"], s["source"]["id"])


def assert_report(api: APIClient, goal: Goal, expected: dict[str, Any]) -> None:
    """The JSON report equals ``expected`` (the oracle's), and its CSV holds the same numbers."""
    query = {
        "start": expected["start"].isoformat(),
        "end": expected["end"].isoformat(),
        "period": expected["period"],
    }
    response = api.get(f"/api/v1/goals/{goal.pk}/report", query)
    assert response.status_code == 200, response.content
    body = response.json()

    currency = expected["impact"]["currency"] if expected["impact"] else ""
    if currency:
        places = max(MINOR_UNITS[currency], *(_places(a) for a in _amounts(expected)))
    else:
        assert all(a == 0 for a in _amounts(expected))
        places = MINOR_UNITS[""]
    got = _parsed(body, places)
    # Sources are listed most people first (the order among equals is the product's own).
    people = [s["people"] for s in got["by_source"]]
    assert people == sorted(people, reverse=True), people
    want = _without_series_achievements(expected)
    assert {**got, "by_source": sorted(got["by_source"], key=_key)} == {
        **want,
        "by_source": sorted(want["by_source"], key=_key),
    }

    csv_response = api.get(f"/api/v1/goals/{goal.pk}/report", {**query, "format": "csv"})
    assert csv_response.status_code == 200
    assert_csv_holds(csv_response.content.decode(), body, expected)


def assert_csv_holds(text: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    """The CSV (decisions, "CSV") has, per period, the total row, one row per source in
    ``by_source`` order and the unattributed row, then the range's summary rows; every number
    is the JSON's (per-period series achievements, which the JSON lacks, are the oracle's)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    currency = body["impact"]["currency"] if body["impact"] else ""
    wanted_sources = {_key(s): s for s in expected["by_source"]}
    series_count = 1 + len(body["by_source"]) + 1
    assert len(rows) == (len(body["progress"]) + 1) * series_count

    def check_source(row: dict[str, str], source: dict[str, Any]) -> None:
        name = source["name"]
        assert (row["source_type"], row["source_id"], row["source_name"], row["deleted"]) == (
            source["type"],
            str(source["id"]),
            f"'{name}" if name.startswith(("=", "+", "-", "@")) else name,
            "true" if source["deleted"] else "false",
        )

    blocks = [
        rows[n * series_count : (n + 1) * series_count] for n in range(len(body["progress"]) + 1)
    ]
    for index, block in enumerate(blocks):
        summary = index == len(body["progress"])
        total, *by_source, unattributed = block
        assert {r["currency"] for r in block} == {currency}
        assert [r["series"] for r in block] == ["total"] + ["source"] * len(by_source) + [
            "unattributed"
        ]
        if summary:
            assert {r["period_start"] for r in block} == {""}
            assert (
                total["people"],
                total["cumulative_people"],
                total["achievements"],
                total["revenue"],
                total["revenue_missing_achievements"],
            ) == (
                str(body["total_people"]),
                str(body["total_people"]),
                str(body["achievements"]),
                body["impact"]["amount"] if body["impact"] else total["revenue"],
                str(body["revenue_missing_achievements"]),
            )
            if not body["impact"]:
                assert Decimal(total["revenue"]) == 0
            pairs = [*zip(by_source, body["by_source"], strict=True)]
            for row, series in [*pairs, (unattributed, body["unattributed"])]:
                if "source" in series:
                    check_source(row, series["source"])
                assert (row["people"], row["achievements"], row["revenue"]) == (
                    str(series["people"]),
                    str(series["achievements"]),
                    series["revenue"],
                )
                assert row["cumulative_people"] == row["revenue_missing_achievements"] == ""
            continue
        point = body["progress"][index]
        assert {r["period_start"] for r in block} == {point["period_start"]}
        assert (
            total["people"],
            total["cumulative_people"],
            total["achievements"],
            total["revenue"],
            total["revenue_missing_achievements"],
        ) == (
            str(point["people"]),
            str(point["cumulative_people"]),
            str(point["achievements"]),
            point["revenue"],
            "",
        )
        points: list[tuple[dict[str, str], dict[str, Any], dict[str, Any]]] = []
        for row, s in zip(by_source, body["by_source"], strict=True):
            check_source(row, s["source"])
            points.append((row, s["progress"][index], wanted_sources[_key(s)]["progress"][index]))
        points.append(
            (
                unattributed,
                body["unattributed"]["progress"][index],
                expected["unattributed"]["progress"][index],
            )
        )
        for row, got, oracle in points:
            assert (row["people"], row["revenue"]) == (str(got["people"]), got["revenue"])
            assert row["achievements"] == str(oracle["achievements"])
            assert row["cumulative_people"] == row["revenue_missing_achievements"] == ""


# --- scenarios ----------------------------------------------------------------------------------

#: Zones with DST changes (Berlin, New York, Chatham's +12:45/+13:45) and an odd fixed offset
#: (Kolkata, +05:30), each with days near its changes to centre ranges on (and New Year's ISO
#: week 1, which starts in the previous year).
ZONES = {
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Pacific/Chatham": [date(2026, 4, 5), date(2026, 9, 27)],
    "Asia/Kolkata": [date(2026, 1, 1), date(2026, 6, 30)],
    "UTC": [date(2026, 1, 1)],
}
#: Local minutes of the day: midnight's neighbours and the DST changes' hours (Chatham changes
#: at 02:45 and 03:45), plus anything.
MINUTES = st.one_of(
    st.sampled_from([0, 1, 59, 60, 119, 120, 150, 165, 180, 200, 225, 1380, 1439]),
    st.integers(0, 1439),
)
#: Revenues with up to 6 decimals, small and large: up to 15 significant digits (SQLite keeps
#: a decimal column as a float, whose 15 significant digits survive: more would test the
#: storage, not the report) and under 10^11, so that 30 of them stay within the 64-bit integer
#: millionths the sums are made in (impacts may reach 10^12 each, the engine's bound).
REVENUE = st.one_of(
    st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(-(10**6), 10**8),
        st.integers(0, 6),
    ),
    st.builds(Decimal, st.integers(-(10**11) + 1, 10**11 - 1)),
    st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(-(10**14) + 1, 10**14 - 1),
        st.integers(3, 6),
    ),
)


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    zone = draw(st.sampled_from(sorted(ZONES)))
    anchor = draw(st.sampled_from(ZONES[zone]))
    start = anchor + timedelta(days=draw(st.integers(-12, 3)))
    end = start + timedelta(days=draw(st.integers(0, 30)))
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD", ""]))
    span = (end - start).days

    achievement = st.fixed_dictionaries(
        {
            "person": st.integers(0, 3),
            # Anywhere near the range, often just inside or outside either end of it.
            "day": st.one_of(
                st.integers(-8, span + 8), st.integers(-3, 2), st.integers(span - 2, span + 3)
            ),
            "minute": MINUTES,
            "fold": st.integers(0, 1),
            "revenue": REVENUE if currency else st.just(Decimal(0)),
            "missing": st.booleans() if currency else st.just(False),
            # 0: unattributed, 1-3: the goal's sources (one of them deleted),
            # 4: a campaign that is no longer a goal source (credits of the current result).
            "source": st.sampled_from([0, 0, 1, 1, 2, 3, 4]),
        }
    )
    return {
        "zone": zone,
        "start": start,
        "end": end,
        "currency": currency,
        "goal_sources": draw(st.integers(0, 3)),
        "deleted": draw(st.integers(1, 3)),
        "names": draw(st.permutations(["Onboarding", "winback", "-20% sale", "Newsletter"])),
        "initial": draw(st.lists(achievement, min_size=3, max_size=30)),
        "later": draw(st.lists(achievement, max_size=12)),
        "removals": draw(st.lists(st.integers(0, 1000), max_size=4)),
        "recredits": draw(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 4)), max_size=4)),
    }


_names = itertools.count(1)
_uids = itertools.count(1)


def _instant(spec: dict[str, Any], zone: str, start: date) -> datetime:
    day = start + timedelta(days=spec["day"])
    local = datetime.combine(
        day, time(spec["minute"] // 60, spec["minute"] % 60), tzinfo=ZoneInfo(zone)
    ).replace(fold=spec["fold"])
    return local.astimezone(UTC)


def _insert(goal: Goal, a: Ach, objects: dict[Source, Campaign | Broadcast]) -> Achievement:
    return achieve(
        goal,
        uuid.UUID(a.person),
        a.at,
        revenue=str(a.revenue),
        missing=a.missing,
        source=objects[a.source] if a.source else None,
    )


def _incrementally(goal: Goal, person: str, change: Callable[[], Any]) -> None:
    """What ``engine.apply_people`` does to the rollup around its change of one person."""
    key = uuid.UUID(person)
    before = engine.rollup_units(goal.pk, goal.current_version, [key])
    change()
    after = engine.rollup_units(goal.pk, goal.current_version, [key])
    rollup._rollup_apply(goal.pk, goal.current_version, before, after)


@helpers.oracle_settings(50)
@given(scenario=scenarios(), order=st.randoms(use_true_random=False))
def test_the_report_equals_the_oracle_on_every_path(
    db: None, make_token_client: Callable[..., APIClient], scenario: dict[str, Any], order: Any
) -> None:
    zone, start, end = scenario["zone"], scenario["start"], scenario["end"]
    workspace = services.workspace_create(name=f"oracle {next(_names)}", time_zone=zone)
    api = make_token_client(workspace)
    goal = make_goal(workspace, currency=scenario["currency"])
    names = scenario["names"]
    objects: dict[Source, Campaign | Broadcast] = {}
    candidates: list[Campaign | Broadcast] = [
        Campaign.objects.create(workspace=workspace, name=names[0]),
        Broadcast.objects.create(workspace=workspace, name=names[1]),
        Campaign.objects.create(workspace=workspace, name=names[2]),
        Campaign.objects.create(workspace=workspace, name=names[3]),  # not a goal source
    ]
    refs: list[Source] = []
    for obj in candidates:
        ref = ("campaign" if isinstance(obj, Campaign) else "broadcast", obj.pk)
        objects[ref] = obj
        refs.append(ref)
    for obj in candidates[: scenario["goal_sources"]]:
        add_source(goal, obj)
    services.source_soft_delete(source=candidates[scenario["deleted"] - 1])
    for obj in candidates:
        obj.refresh_from_db()
    every = [
        GoalSourceInfo(ref[0], ref[1], obj.name, obj.deleted_at is not None)
        for ref, obj in zip(refs, candidates, strict=True)
    ]
    infos, others = every[: scenario["goal_sources"]], every[scenario["goal_sources"] :]
    people = [str(uuid.uuid4()) for _ in range(4)]

    def ach(spec: dict[str, Any]) -> Ach:
        return Ach(
            person=people[spec["person"]],
            at=_instant(spec, zone, start),
            revenue=Decimal(0) if spec["missing"] else spec["revenue"],
            missing=spec["missing"],
            source=refs[spec["source"] - 1] if spec["source"] else None,
            uid=next(_uids),
        )

    rows: dict[int, tuple[Ach, Achievement]] = {}
    for spec in scenario["initial"]:
        a = ach(spec)
        rows[a.uid] = (a, _insert(goal, a, objects))

    def check(state: str) -> None:
        goal.refresh_from_db()
        assert (goal.rollup_version == goal.current_version) == (state != "achievements")
        for period in ("day", "week"):
            expected = oracle_report(
                [a for a, _ in rows.values()],
                zone=zone,
                start=start,
                end=end,
                period=period,
                currency=scenario["currency"],
                sources=infos,
                others=others,
            )
            assert_report(api, goal, expected)

    # 1. Without a rollup: the report is read from the achievements.
    check("achievements")
    # 2. From the rollup, built in one go.
    engine.build_rollup(goal.pk, goal.current_version)
    Goal.objects.filter(pk=goal.pk).update(rollup_version=goal.current_version)
    check("rollup")

    # 3. Incremental changes in random order: new achievements, removed ones, new credits.
    changes: list[tuple[str, Any]] = [("add", ach(spec)) for spec in scenario["later"]]
    changes += [("remove", n) for n in scenario["removals"]]
    changes += [("recredit", pair) for pair in scenario["recredits"]]
    order.shuffle(changes)
    for kind, what in changes:
        if kind == "add":

            def add(a: Ach = what) -> None:
                rows[a.uid] = (a, _insert(goal, a, objects))

            _incrementally(goal, what.person, add)
            continue
        if not rows:
            continue
        uid = sorted(rows)[(what if kind == "remove" else what[0]) % len(rows)]
        old, row = rows[uid]

        def remove(uid: int = uid, row: Achievement = row) -> None:
            row.delete()
            del rows[uid]

        def recredit(old: Ach = old, row: Achievement = row, to: int = 0) -> None:
            row.delete()
            new = replace(old, source=refs[to - 1] if to else None, uid=next(_uids))
            del rows[old.uid]
            rows[new.uid] = (new, _insert(goal, new, objects))

        if kind == "remove":
            _incrementally(goal, old.person, remove)
        else:
            _incrementally(goal, old.person, partial(recredit, old, row, what[1]))
    check("rollup")
    # 4. The same final result read from its achievements.
    Goal.objects.filter(pk=goal.pk).update(rollup_version=0)
    check("achievements")


# --- end to end: ingestion, the engine's own local days, credits and incremental rollup ---------


@pytest.mark.django_db(transaction=True)
@helpers.oracle_settings(12)
@given(
    zone=st.sampled_from(sorted(ZONES)),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    items=st.lists(
        st.fixed_dictionaries(
            {
                "person": st.sampled_from(["ada", "bob", "cem"]),
                "day": st.integers(-6, 10),
                "minute": MINUTES,
                "fold": st.integers(0, 1),
                "price": st.one_of(st.none(), REVENUE.map(str)),
                # None: an event; else a message of that source, delivered at that moment.
                "message": st.sampled_from([None, None, 0, 1, 2]),
            }
        ),
        min_size=1,
        max_size=14,
    ),
    start_at=st.integers(-4, 2),
    days=st.integers(0, 9),
    anchor_index=st.integers(0, 1),
    order=st.randoms(use_true_random=False),
)
def test_a_result_kept_up_to_date_by_ingestion_equals_the_oracle(
    make_token_client: Callable[..., APIClient],
    zone: str,
    currency: str,
    items: list[dict[str, Any]],
    start_at: int,
    days: int,
    anchor_index: int,
    order: Any,
) -> None:
    anchors = ZONES[zone]
    anchor = anchors[anchor_index % len(anchors)]
    workspace = services.workspace_create(name=f"ingest {next(_names)}", time_zone=zone)
    api = make_token_client(workspace)
    sources: list[Campaign | Broadcast] = [
        Campaign.objects.create(workspace=workspace, name="Onboarding", status="running"),
        Broadcast.objects.create(workspace=workspace, name="Newsletter", status="sent"),
        Campaign.objects.create(workspace=workspace, name="Winback", status="running"),
    ]
    goal = helpers.make_goal(
        workspace, sources=sources, impact_currency=currency, impact_event_key="price"
    )
    services.source_soft_delete(source=sources[2])
    batches = []
    for n, item in enumerate(items):
        at = _instant(item, zone, anchor).isoformat()
        if item["message"] is None:
            data = {} if item["price"] is None else {"price": item["price"]}
            batches.append([event(item["person"], "plan_activated", at, **data)])
        else:
            source = sources[item["message"]]
            batches.append(
                [message(f"m{n}", item["person"], at, source), metric(f"m{n}", "delivered", at)]
            )
    order.shuffle(batches)
    for batch in batches:
        helpers.ingest(api, *batch)

    goal.refresh_from_db()
    assert goal.rollup_version == goal.current_version  # kept up to date incrementally
    stored = [
        Ach(
            person=str(a.person_key),
            at=a.achieved_at,
            revenue=a.revenue,
            missing=a.revenue_missing,
            source=(
                ("campaign", a.source_campaign_id)
                if a.source_campaign_id
                else ("broadcast", a.source_broadcast_id)
                if a.source_broadcast_id
                else None
            ),
        )
        for a in Achievement.objects.filter(goal=goal, version=goal.current_version)
    ]
    # One achievement per event, at its instant, with its price (missing: 0 and counted).
    assert sorted((a.at, a.revenue, a.missing) for a in stored) == sorted(
        (
            _instant(i, zone, anchor),
            Decimal(0) if i["price"] is None else Decimal(i["price"]),
            i["price"] is None,
        )
        for i in items
        if i["message"] is None
    )
    for s in sources:
        s.refresh_from_db()
    infos = [
        GoalSourceInfo(
            "campaign" if isinstance(s, Campaign) else "broadcast",
            s.pk,
            s.name,
            s.deleted_at is not None,
        )
        for s in sources
    ]
    start = anchor + timedelta(days=start_at)
    for period in ("day", "week"):
        assert_report(
            api,
            goal,
            oracle_report(
                stored,
                zone=zone,
                start=start,
                end=start + timedelta(days=days),
                period=period,
                currency=currency,
                sources=infos,
            ),
        )
