"""Last-touch attribution against an independent oracle, end to end over HTTP (SPEC §3, §4.3,
§4.4, §4.5).

``credit`` below is written from the spec's text and docs/decisions.md alone, not from
``goals/attribution.py`` or the engine. For an achievement of person P at instant A it looks
at P's messages (never anonymous ones: they have no person) whose source is one of the goal's
sources (campaigns of any status and newsletter broadcasts, deleted or not; transactional
messages and other sources never count), and computes each one's touch time:

* the qualifying metric of the message's channel is the goal's setting, else ``delivered``
  where the channel's chain has it, else ``sent``;
* a recorded chain metric reaches its own step and every earlier step of its channel's chain;
  with machine opens and clicks not counted, a ``machine: true`` opened/clicked reaches only
  the steps before ``opened`` (an SMS's machine click proves ``delivered``); non-chain metrics
  (``converted``, ``bounced``...) reach nothing;
* the message's own ``sent_at`` proves ``sent`` (decisions, "Message triggers");
* the touch time is the first instant the message reached the qualifying step.

A message qualifies when its touch time is at or after the tracking start (decisions), at or
before A, and at or after local midnight, in the workspace's zone, W days before A's local
date. The latest touch wins; ties go to the later ``sent_at``, then the higher client id
compared by length, then code point (decisions, "Higher message id").

The property test generates 2-3 people with 0-8 messages each on all seven channels, from the
goal's sources (campaigns draft / running / stopped / archived and a newsletter, one of them
soft-deleted once its messages are in), from a campaign and broadcasts that are not sources,
transactional and anonymous in-app; metrics in any order, with non-chain metrics, skipped
steps and machine opens and clicks; random settings; workspaces in Berlin (across the 2026
spring DST change), New York (across both DST changes, one next to the tracking start) and
Kolkata. Instants are drawn from a small shared pool (local midnights, a second either side,
DST edges), so touches, sent times and events tie. The goal is created first, everything is
ingested through ``/api/v1/batch`` in a random order and in several batches (the incremental
path), compared with the oracle, then recomputed in full (a change of the window and back)
and compared again.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Workspace
from tests.goals.helpers import SPEC_CHAINS as CHAINS
from tests.goals.helpers import SPEC_OTHER_METRICS as OTHER
from tests.goals.helpers import oracle_settings

pytestmark = pytest.mark.django_db(transaction=True)

TRACKING_START = datetime(2025, 11, 1, tzinfo=UTC)

MACHINE_STEPS = ("opened", "clicked")

# Sources: goal sources (campaigns of every status, a newsletter) and others.
GOAL_SOURCES = ("Cdraft", "Crunning", "Cstopped", "Carchived", "Nnews")
OTHER_SOURCES = ("Cother", "Tapi", "Iinapp")
STATUS = {"Cdraft": "draft", "Crunning": "running", "Cstopped": "stopped", "Carchived": "archived"}
BROADCAST_KIND = {"Nnews": "newsletter", "Tapi": "api_triggered", "Iinapp": "in_app"}

#: (zone, first local date): seven local days each.
SPANS = (
    ("Europe/Berlin", date(2026, 3, 26)),  # summer time from 2026-03-29
    ("America/New_York", date(2025, 10, 30)),  # tracking start; winter time from 2025-11-02
    ("America/New_York", date(2026, 3, 5)),  # summer time from 2026-03-08
    ("Asia/Kolkata", date(2025, 10, 30)),  # tracking start at 05:30 local
)
DAYS = 7


# --- the oracle ---------------------------------------------------------------------------------


@dataclass
class Message:
    id: str
    person: str | None  # None: anonymous in-app
    channel: str
    source: str | None  # a key of GOAL_SOURCES / OTHER_SOURCES, None: transactional
    sent: datetime
    metrics: list[tuple[str, datetime, bool]] = field(default_factory=list)


@dataclass
class Settings:
    window: int
    metrics: dict[str, str]  # channels left out take the default
    count_machine: bool


def qualifying_metric(channel: str, settings_: Settings) -> str:
    if channel in settings_.metrics:
        return settings_.metrics[channel]
    return "delivered" if "delivered" in CHAINS[channel] else "sent"


def touch_time(message: Message, settings_: Settings) -> datetime | None:
    chain = CHAINS[message.channel]
    wanted = chain.index(qualifying_metric(message.channel, settings_))
    proofs = [message.sent] if wanted == 0 else []  # sent_at proves `sent`
    for metric, moment, machine in message.metrics:
        if metric not in chain:  # converted, bounced...: never qualify
            continue
        reached = chain.index(metric)
        if machine and not settings_.count_machine:
            # Does not reach opened / clicked; still proves the steps before them.
            reached = min(chain.index(step) for step in MACHINE_STEPS if step in chain) - 1
        if reached >= wanted:
            proofs.append(moment)
    return min(proofs, default=None)


def id_order(client_id: str) -> tuple[int, str]:
    return (len(client_id), client_id)


def credit(
    person: str,
    achieved: datetime,
    messages: list[Message],
    sources: set[str],
    settings_: Settings,
    zone: ZoneInfo,
) -> tuple[Message, datetime] | None:
    local_day = achieved.astimezone(zone).date()
    window_start = datetime.combine(local_day - timedelta(days=settings_.window), time(0), zone)
    best: tuple[Any, ...] | None = None
    for message in messages:
        if message.person != person or message.source not in sources:
            continue
        touch = touch_time(message, settings_)
        if touch is None or touch < TRACKING_START:
            continue
        if not window_start <= touch <= achieved:
            continue
        key = (touch, message.sent, id_order(message.id))
        if best is None or key > best[0]:
            best = (key, message, touch)
    return None if best is None else (best[1], best[2])


# --- the cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    zone: str
    first_day: date
    people: list[str]
    messages: list[Message]
    events: list[tuple[str, datetime, str]]  # (person, instant, name)
    settings: Settings
    later: Settings  # the settings a second change sets (recomputed from stored data)
    second: list[str]  # the sources of a second goal, computed with ``later`` throughout
    deleted: str  # the goal source soft-deleted once its messages are in
    late: int | None  # or before this batch (its later messages are late deliveries)
    resend: bool  # a few messages and metrics sent twice
    order: Any
    batches: int


def midnight(day: date, zone: ZoneInfo, days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=days), time(0), zone).astimezone(UTC)


@st.composite
def instants(draw: st.DrawFn, first_day: date, zone: ZoneInfo) -> datetime:
    # A day of the span, or a window's first day before one (W = 1, 7, 30, 90 days back).
    back = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 7, 30, 90]))
    base = midnight(first_day, zone, draw(st.integers(0, DAYS - 1)) - back)
    offset = draw(
        st.one_of(
            st.sampled_from([0, 0, 0, -1, 1, -0.000001, 0.000001, 0.5, 3600, 2 * 3600, 3 * 3600]),
            st.integers(0, 24 * 60 - 1).map(lambda minute: minute * 60),
        )
    )
    return base + timedelta(seconds=offset)


#: Client ids whose order by length, then code point differs from plain text order and from
#: arrival order: m9 < m10 < m99 < m100, mZ < mz, m-1 < m01 < m1A.
CLIENT_IDS = (
    *(f"m{n}" for n in (0, 1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 110, 999, 1000)),
    *("mA", "mZ", "mz", "m-", "mA1", "mZ9", "m-1", "m01", "m1A", "m1z", "mz0", "m9A", "mA00"),
    *("m10z", "mZZZ", "m-10", "m0010", "n1", "a99", "Z", "9", "10"),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone_name, first_day = draw(st.sampled_from(SPANS))
    zone = ZoneInfo(zone_name)
    pool = draw(st.lists(instants(first_day, zone), min_size=3, max_size=8, unique=True))
    moment = st.one_of(st.sampled_from(pool), st.sampled_from(pool), instants(first_day, zone))
    people = [f"p{i}" for i in range(draw(st.integers(2, 3)))]
    total = sum(draw(st.lists(st.integers(0, 8), min_size=len(people), max_size=len(people))))
    ids = draw(st.permutations(CLIENT_IDS))[:total]
    messages: list[Message] = []
    events: list[tuple[str, datetime, str]] = []
    for n, client_id in enumerate(ids):
        channel = draw(st.sampled_from(list(CHAINS)))
        source = draw(st.sampled_from([*GOAL_SOURCES * 3, *OTHER_SOURCES, None]))
        anonymous = channel == "in_app" and draw(st.integers(0, 3)) == 0
        message = Message(
            id=client_id,
            person=None if anonymous else people[n % len(people)],
            channel=channel,
            source=source,
            sent=draw(moment),
        )
        for _ in range(draw(st.integers(0, 5))):
            metric = draw(st.sampled_from([*CHAINS[channel] * 4, *OTHER]))
            machine = metric in MACHINE_STEPS and draw(st.booleans())
            message.metrics.append((metric, draw(moment), machine))
        if n >= len(people) and draw(st.integers(0, 2)) == 0:
            # A twin of the person's previous message: the same touch and sent time, so the
            # client id decides (with its own source, which may not count).
            twin = messages[n - len(people)]
            message.channel, message.sent = twin.channel, twin.sent
            message.metrics = list(twin.metrics)
            if message.channel != "in_app":  # only in-app messages may be anonymous
                message.person = people[n % len(people)]
        messages.append(message)
    # Events: at pool instants (touches, sent times, midnights) and elsewhere; some not "buy".
    for person in people:
        for _ in range(draw(st.integers(1, 5))):
            name = draw(st.sampled_from(["buy", "buy", "buy", "view"]))
            events.append((person, draw(moment), name))
    return Case(
        zone=zone_name,
        first_day=first_day,
        people=people,
        messages=messages,
        events=events,
        settings=draw(attribution_settings()),
        later=draw(attribution_settings()),
        second=draw(st.lists(st.sampled_from(GOAL_SOURCES), min_size=1, unique=True)),
        deleted=draw(st.sampled_from(GOAL_SOURCES)),
        late=draw(st.one_of(st.none(), st.integers(0, 3))),
        resend=draw(st.booleans()),
        order=draw(st.randoms(use_true_random=False)),
        batches=draw(st.integers(1, 4)),
    )


@st.composite
def attribution_settings(draw: st.DrawFn) -> Settings:
    metrics = {}
    for channel, chain in CHAINS.items():
        if draw(st.booleans()):
            metrics[channel] = draw(st.sampled_from(chain))
    return Settings(
        window=draw(st.sampled_from([0, 0, 1, 1, 7, 30, 90])),
        metrics=metrics,
        count_machine=draw(st.booleans()),
    )


def expected(
    case: Case, settings_: Settings, sources: tuple[str, ...] | list[str] = GOAL_SOURCES
) -> list[tuple[Any, ...]]:
    zone = ZoneInfo(case.zone)
    rows = []
    for person, moment, name in case.events:
        if name != "buy" or moment < TRACKING_START:
            continue
        won = credit(person, moment, case.messages, set(sources), settings_, zone)
        rows.append(
            (
                person,
                moment,
                won[0].id if won else None,
                won[0].source if won else None,
                won[1] if won else None,
            )
        )
    return sorted(rows, key=repr)


# --- the HTTP side ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stamp(moment: datetime, zone: str, form: int) -> str | float:
    """The instant as ISO in UTC, ISO with the workspace zone's offset, or Unix seconds."""
    if form == 1:
        return moment.astimezone(ZoneInfo(zone)).isoformat()
    if form == 2 and moment.microsecond in (0, 500000):  # exact as a float
        return moment.timestamp()
    return iso(moment)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def send(api: APIClient, items: list[dict[str, Any]]) -> None:
    body = ok(api.post("/api/v1/batch", {"items": items}, format="json"))
    assert body["rejected"] == 0, [r for r in body["results"] if r["status"] >= 400]


def create_sources(api: APIClient) -> dict[str, int]:
    refs: dict[str, int] = {}
    body: dict[str, Any]
    for name in (*GOAL_SOURCES, *OTHER_SOURCES):
        if name.startswith("C"):
            body = {"name": name, "status": STATUS.get(name, "running")}
            refs[name] = ok(api.post("/api/v1/campaigns", body, format="json"), 201)["id"]
        else:
            body = {"name": name, "kind": BROADCAST_KIND[name], "channels": ["email", "in_app"]}
            refs[name] = ok(api.post("/api/v1/broadcasts", body, format="json"), 201)["id"]
    return refs


def items_of(case: Case, refs: dict[str, int]) -> list[tuple[str | None, dict[str, Any]]]:
    """Every item with the source it belongs to (for the deletion's timing)."""
    items: list[tuple[str | None, dict[str, Any]]] = []

    def when(moment: datetime) -> str | float:
        return stamp(moment, case.zone, case.order.randrange(3))

    for person, moment, name in case.events:
        items.append(
            (None, {"type": "event", "person": person, "name": name, "timestamp": when(moment)})
        )
    for message in case.messages:
        body: dict[str, Any] = {
            "type": "message",
            "id": message.id,
            "channel": message.channel,
            "sent_at": when(message.sent),
        }
        if message.person is None:
            body["anonymous"] = True
        else:
            body["person"] = message.person
        if message.source is not None:
            key = "campaign" if message.source.startswith("C") else "broadcast"
            body[key] = refs[message.source]
        items.append((message.source, body))
        for metric, moment, machine in message.metrics:
            item: dict[str, Any] = {
                "type": "metric",
                "message": message.id,
                "metric": metric,
                "timestamp": when(moment),
            }
            if machine:
                item["machine"] = True
            items.append((None, item))
    return items


def listed(
    api: APIClient, goal_id: int, names: dict[tuple[int, str], str]
) -> list[tuple[Any, ...]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = ok(
            api.get(f"/api/v1/goals/{goal_id}/achievements", {"page": page, "page_size": 500})
        )
        rows.extend(body["results"])
        if not body["next"]:
            break
        page += 1
    out = []
    for row in rows:
        source = row["source"]
        assert (row["message"] is None) == (source is None) == (not row["attributed"]), row
        out.append(
            (
                row["person"],
                datetime.fromisoformat(row["achieved_at"]),
                row["message"],
                names[source["id"], source["type"]] if source else None,
                datetime.fromisoformat(row["touch_at"]) if row["touch_at"] else None,
            )
        )
    return sorted(out, key=repr)


def attribution_body(settings_: Settings) -> dict[str, Any]:
    return {
        "window_days": settings_.window,
        "metrics": settings_.metrics,
        "count_machine": settings_.count_machine,
    }


def run_case(case: Case, api: APIClient) -> None:
    refs = create_sources(api)
    names = {
        (ref, "campaign" if name.startswith("C") else "broadcast"): name
        for name, ref in refs.items()
    }

    def create_goal(name: str, settings_: Settings, sources: tuple[str, ...] | list[str]) -> int:
        body = {
            "name": name,
            "criteria": {"trigger": {"type": "event", "name": "buy"}},
            "attribution": attribution_body(settings_),
            "sources": [
                {"type": "campaign" if name.startswith("C") else "broadcast", "id": refs[name]}
                for name in sources
            ],
        }
        return int(ok(api.post("/api/v1/goals", body, format="json"), 201)["id"])

    goal_id = create_goal("Buy", case.settings, GOAL_SOURCES)
    second_id = create_goal("Buy too", case.later, case.second)

    items = items_of(case, refs)
    if case.resend:  # the same message, the same metric: stored once (decisions, "Repeats")
        items += [item for item in items if item[1]["type"] in {"message", "metric"}][:4]
    case.order.shuffle(items)
    cuts = sorted(case.order.sample(range(1, len(items)), min(case.batches - 1, len(items) - 1)))
    batches = [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]
    doomed = case.deleted
    last = max((n for n, b in enumerate(batches) for s, _ in b if s == doomed), default=-1)
    if case.late is not None:
        last = min(case.late, len(batches)) - 1
    kind = "campaigns" if doomed.startswith("C") else "broadcasts"
    if last < 0:
        assert api.delete(f"/api/v1/{kind}/{refs[doomed]}").status_code == 204
    for n, chunk in enumerate(batches):
        if chunk:
            send(api, [item for _, item in chunk])
        if n == last:
            assert api.delete(f"/api/v1/{kind}/{refs[doomed]}").status_code == 204

    want = expected(case, case.settings)
    event(f"achievements: {min(len(want), 4)}, credited: {min(sum(1 for r in want if r[2]), 3)}")
    touches = [touch_time(m, case.settings) for m in case.messages if m.source in GOAL_SOURCES]
    touches = [t for t in touches if t is not None]
    if len(set(touches)) < len(touches):
        event("two source messages with one touch time")
    assert listed(api, goal_id, names) == want, "incremental"
    second = expected(case, case.later, case.second)
    assert listed(api, second_id, names) == second, "incremental, second goal"
    # Full recomputes from stored data: the window changed (compared too) and back.
    window = case.settings.window
    other = dataclasses.replace(case.settings, window=window - 1 if window else 1)
    for settings_ in (other, case.settings):
        patch = {"attribution": {"window_days": settings_.window}}
        ok(api.patch(f"/api/v1/goals/{goal_id}", patch, format="json"))
        assert listed(api, goal_id, names) == expected(case, settings_), "recompute"
    # Other settings altogether (a merge patch: null resets a channel to its default).
    later = attribution_body(case.later)
    later["metrics"] = {channel: case.later.metrics.get(channel) for channel in CHAINS}
    ok(api.patch(f"/api/v1/goals/{goal_id}", {"attribution": later}, format="json"))
    assert listed(api, goal_id, names) == expected(case, case.later), "other settings"
    shifted = {"window_days": (case.later.window + 1) % 91}
    ok(api.patch(f"/api/v1/goals/{second_id}", {"attribution": shifted}, format="json"))
    ok(api.patch(f"/api/v1/goals/{second_id}", {"attribution": later}, format="json"))
    assert listed(api, second_id, names) == second, "recompute, second goal"


workspaces = itertools.count()


@oracle_settings(30)
@given(case=cases())
def test_attribution_equals_the_oracle_in_any_arrival_order(
    case: Case, make_token_client: Callable[..., APIClient]
) -> None:
    note(f"zone {case.zone}, settings {case.settings}, later {case.later}, deleted {case.deleted}")
    for message in case.messages:
        note(f"{message}")
    for item in case.events:
        note(f"event {item}")
    workspace: Workspace = services.workspace_create(
        name=f"attribution{next(workspaces)}", time_zone=case.zone
    )
    run_case(case, make_token_client(workspace))
