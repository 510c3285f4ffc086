"""Ingestion: validate and store people, events, segment changes, messages and metrics (SPEC §7).

One code path serves both the single-item endpoints and ``POST /api/v1/batch``: a single
endpoint is a batch of one (``ingest_one``), so the two can never disagree about what is valid
or what a repeat means.

A batch runs in three steps:

1. **Validate** every item in plain Python (no DB, no DRF serializer per item: at 1,000 items a
   serializer each costs more than the inserts). A bad item gets its own 400 and is left out.
2. **Resolve references in bulk**, one query per kind: segments, campaigns, broadcasts, stored
   messages, people (missing people are created in one INSERT; ingestion never depends on
   arrival order, so an event may arrive before its person).
3. **Write in bulk**, one transaction per request, then queue ONE
   ``campaigns.tasks.process_ingested`` on commit with the ids of every stored row.

Items are applied by kind, in this order (within a kind, in item order):
person upserts, events, segment changes, messages, metrics, person deletions. So a metric may
follow its message in the same batch, and a deletion wins over data sent before it for
the same person (the data is kept under the person's anonymous key, like any other history).
Items naming a person after that person's deletion are applied after it, as a new run in the
same order (``_phases``): they belong to a new person, as they would sent one by one.

A metric whose message is not stored is kept pending (202, ``PendingMetric``) and stored when
the message arrives (``campaigns.services.pending_metrics_apply``), so a metric may also come
first (SPEC §4.5).

Repeats: an event ``id`` or a message ``id`` seen before is stored once (200); a message id
repeated with different content is a conflict (409); a metric repeated with the same metric,
timestamp and machine flag is stored once (200; 202 again while it is pending). Concurrent
requests racing on the same ids are settled by the unique constraints, not by the pre-checks
(see ``_insert_new``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from campaigns import channels, services, values
from campaigns.errors import DomainError
from campaigns.models import (
    Broadcast,
    Campaign,
    Event,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    PersonAttributeChange,
    Segment,
    SegmentAction,
    SegmentMembershipChange,
    Workspace,
)
from campaigns.timestamps import TimestampError, parse_timestamp

logger = logging.getLogger(__name__)

#: Most items accepted in one ``POST /api/v1/batch``.
BATCH_LIMIT = 1000
MAX_ID_LENGTH = 255
#: How many times a batch is stored when a person it links to is deleted by another request
#: between its reading the person and its commit (the link's foreign key fails at commit).
STORE_ATTEMPTS = 3
#: SQLSTATE of a foreign key violation.
_FOREIGN_KEY_VIOLATION = "23503"

PERSON = "person"
EVENT = "event"
SEGMENT = "segment"
MESSAGE = "message"
METRIC = "metric"
DELETE_PERSON = "delete_person"

#: The fields each item type accepts (besides ``type``). Unknown fields are rejected: a typo
#: such as ``timestmp`` silently defaulting the time to "now" would corrupt attribution.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    PERSON: ("person", "email", "attributes", "timestamp"),
    EVENT: ("person", "name", "data", "timestamp", "id"),
    SEGMENT: ("person", "segment", "action", "timestamp"),
    MESSAGE: ("id", "person", "channel", "campaign", "broadcast", "anonymous", "sent_at"),
    METRIC: ("message", "metric", "timestamp", "machine"),
    DELETE_PERSON: ("person",),
}
ITEM_TYPES: tuple[str, ...] = tuple(ITEM_FIELDS)
#: Other names a client may give an item type: SPEC §7 lists "people, events, segment
#: changes, messages and message metrics" and their endpoints without fixing the batch's
#: names, so the endpoint's plural and the spec's words are read as the canonical type.
TYPE_ALIASES: dict[str, str] = {
    "people": PERSON,
    "events": EVENT,
    "segments": SEGMENT,
    "segment_change": SEGMENT,
    "segment_changes": SEGMENT,
    "messages": MESSAGE,
    "metrics": METRIC,
    "message_metric": METRIC,
    "message_metrics": METRIC,
    "person_delete": DELETE_PERSON,
    "delete_people": DELETE_PERSON,
}
#: Item types whose ``person`` field (the URL's ``{identifier}``) may be sent as
#: ``identifier``, the name SPEC §3 and the URL give it.
IDENTIFIER_TYPES: frozenset[str] = frozenset({PERSON, EVENT, SEGMENT, DELETE_PERSON})

REQUIRED = "This field is required."

Errors = dict[str, list[str]]
#: What makes a metric a repeat: the same message, metric, timestamp and machine flag.
MetricKey = tuple[int, str, datetime, bool]


# --- results ----------------------------------------------------------------------------------


@dataclass
class ItemResult:
    """How one item was answered. ``obj`` is the stored row (single endpoints serialize it)."""

    index: int
    status: int
    errors: Errors | None = None
    id: str | None = None
    obj: Any = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": int(self.status)}
        if self.errors:
            out["errors"] = self.errors
        if self.id is not None:
            out["id"] = self.id
        return out


@dataclass
class Touched:
    """Ids of the rows a request stored, handed to ``process_ingested``."""

    message_ids: set[int] = field(default_factory=set)
    event_ids: list[int] = field(default_factory=list)
    segment_change_ids: list[int] = field(default_factory=list)
    attribute_change_ids: list[int] = field(default_factory=list)
    #: Client ids of messages not stored yet that metrics were kept pending for.
    pending_client_ids: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(
            self.message_ids
            or self.event_ids
            or self.segment_change_ids
            or self.attribute_change_ids
            or self.pending_client_ids
        )


@dataclass
class IngestOutcome:
    results: list[ItemResult]
    touched: Touched

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def rejected(self) -> int:
        return len(self.results) - self.accepted

    def as_dict(self) -> dict[str, Any]:
        return {
            "results": [r.as_dict() for r in self.results],
            "accepted": self.accepted,
            "rejected": self.rejected,
        }


# --- validated items (step 1 output) ------------------------------------------------------------

_UNSET: Any = object()


@dataclass
class PersonIn:
    index: int
    identifier: str
    email: Any  # _UNSET, or the new email ("" clears it)
    attributes: dict[str, Any] | None
    timestamp: datetime


@dataclass
class EventIn:
    index: int
    identifier: str
    name: str
    data: dict[str, Any]
    timestamp: datetime
    client_id: str | None


@dataclass
class SegmentIn:
    index: int
    identifier: str
    segment_id: int
    action: str
    timestamp: datetime


@dataclass
class MessageIn:
    index: int
    client_id: str
    identifier: str | None
    channel: str
    campaign_id: int | None
    broadcast_id: int | None
    anonymous: bool
    sent_at: datetime

    def content(self) -> tuple[Any, ...]:
        """What must match for a repeated id to be the same message (not a conflict)."""
        return (
            self.identifier,
            self.channel,
            self.campaign_id,
            self.broadcast_id,
            self.anonymous,
            self.sent_at,
        )


@dataclass
class MetricIn:
    index: int
    message_client_id: str
    metric: str
    timestamp: datetime
    machine: bool


@dataclass
class DeleteIn:
    index: int
    identifier: str


Item = PersonIn | EventIn | SegmentIn | MessageIn | MetricIn | DeleteIn


# --- field validators: each returns the clean value or records an error -----------------------


class _Fields:
    """One raw item being validated; collects every field error, not just the first."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.errors: Errors = {}

    def error(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, []).append(reason)

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def identifier(self, name: str, *, required: bool = True) -> str | None:
        """A client id: a non-blank string (or an integer, read as its decimal string)."""
        value = self.raw.get(name)
        if value is None:
            if required:
                self.error(name, REQUIRED)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return None
        if not value.strip():
            self.error(name, "must not be blank")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.error(name, f"must be at most {MAX_ID_LENGTH} characters")
            return None
        return value

    def pk(self, name: str) -> int | None:
        """The id of one of our rows: an integer within 64 bits (a string of digits is read as
        one)."""
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            return values.parse_id(value)
        except ValueError as exc:
            self.error(name, str(exc))
            return None

    def timestamp(self, name: str, *, default: datetime | None = None) -> datetime | None:
        value = self.raw.get(name)
        if value is None:
            if default is None:
                self.error(name, REQUIRED)
            return default
        try:
            return parse_timestamp(value)
        except TimestampError as exc:
            self.error(name, str(exc))
            return None

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(name, "must be a JSON object")
            return None
        return value

    def boolean(self, name: str) -> bool:
        value = self.raw.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error(name, "must be true or false")
            return False
        return value

    def choice(self, name: str, options: Sequence[str], what: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            self.error(name, REQUIRED)
            return None
        if value not in options:
            self.error(name, f'unknown {what} "{value}"; expected one of {", ".join(options)}')
            return None
        return str(value)


def _parse_person(index: int, f: _Fields, now: datetime) -> PersonIn | None:
    identifier = f.identifier("person")
    email = _UNSET
    if "email" in f.raw:
        raw_email = f.raw["email"]
        if raw_email is None or raw_email == "":
            email = ""
        elif not isinstance(raw_email, str):
            f.error("email", "must be a string")
        elif len(raw_email) > 254:
            f.error("email", "must be at most 254 characters")
        else:
            try:
                validate_email(raw_email)
            except DjangoValidationError:
                f.error("email", "Enter a valid email address.")
            else:
                email = raw_email
    attributes = f.obj("attributes")
    timestamp = f.timestamp("timestamp", default=now)
    if f.errors:
        return None
    assert identifier is not None and timestamp is not None
    return PersonIn(index, identifier, email, attributes, timestamp)


def _parse_event(index: int, f: _Fields, now: datetime) -> EventIn | None:
    identifier = f.identifier("person")
    name = f.raw.get("name")
    if name is None:
        f.error("name", REQUIRED)
    elif not isinstance(name, str):
        f.error("name", "must be a string")
    elif not name.strip():
        f.error("name", "must not be blank")
    elif len(name) > 255:
        f.error("name", "must be at most 255 characters")
    data = f.obj("data")
    timestamp = f.timestamp("timestamp", default=now)
    client_id = f.identifier("id", required=False)
    if f.errors:
        return None
    assert identifier is not None and timestamp is not None and isinstance(name, str)
    return EventIn(index, identifier, name, data or {}, timestamp, client_id)


def _parse_segment(index: int, f: _Fields, now: datetime) -> SegmentIn | None:
    identifier = f.identifier("person")
    segment_id = f.pk("segment")
    if segment_id is None and "segment" not in f.errors:
        f.error("segment", REQUIRED)
    action = f.choice("action", SegmentAction.values, "action")
    timestamp = f.timestamp("timestamp", default=now)
    if f.errors:
        return None
    assert identifier and segment_id and action and timestamp
    return SegmentIn(index, identifier, segment_id, action, timestamp)


def _parse_message(index: int, f: _Fields, now: datetime) -> MessageIn | None:
    client_id = f.identifier("id")
    identifier = f.identifier("person", required=False)
    channel = f.choice("channel", channels.CHANNELS, "channel")
    campaign_id = f.pk("campaign")
    broadcast_id = f.pk("broadcast")
    if campaign_id is not None and broadcast_id is not None:
        f.error("campaign", "give a campaign or a broadcast, not both")
    anonymous = f.boolean("anonymous")
    if anonymous:
        if channel is not None and channel != "in_app":
            f.error("anonymous", "only in-app messages can be anonymous")
        if f.has("person"):
            f.error("person", "an anonymous message has no person; leave it out")
    elif not f.has("person") and "person" not in f.errors:
        f.error("person", "required unless the message is anonymous (in-app only)")
    sent_at = f.timestamp("sent_at")
    if f.errors:
        return None
    assert client_id and channel and sent_at
    return MessageIn(
        index, client_id, identifier, channel, campaign_id, broadcast_id, anonymous, sent_at
    )


def _parse_metric(index: int, f: _Fields, now: datetime) -> MetricIn | None:
    message_client_id = f.identifier("message")
    metric = f.choice("metric", channels.ALL_METRICS, "metric")
    timestamp = f.timestamp("timestamp")
    machine = f.boolean("machine")
    if machine and metric is not None and metric not in channels.MACHINE_METRICS:
        f.error("machine", "only opened and clicked metrics can be marked machine")
    if f.errors:
        return None
    assert message_client_id and metric and timestamp
    return MetricIn(index, message_client_id, metric, timestamp, machine)


def _parse_delete(index: int, f: _Fields, now: datetime) -> DeleteIn | None:
    identifier = f.identifier("person")
    if f.errors:
        return None
    assert identifier is not None
    return DeleteIn(index, identifier)


_PARSERS: dict[str, Callable[[int, _Fields, datetime], Item | None]] = {
    PERSON: _parse_person,
    EVENT: _parse_event,
    SEGMENT: _parse_segment,
    MESSAGE: _parse_message,
    METRIC: _parse_metric,
    DELETE_PERSON: _parse_delete,
}


def parse_item(index: int, raw: Any, now: datetime) -> Item | Errors:
    """Validate one raw batch item: the typed item, or its errors by field name."""
    if not isinstance(raw, dict):
        return {"non_field_errors": ["each item must be a JSON object"]}
    kind = raw.get("type")
    if kind is None:
        return {"type": [REQUIRED]}
    if isinstance(kind, str):
        kind = TYPE_ALIASES.get(kind, kind)
    if not isinstance(kind, str) or kind not in _PARSERS:
        return {"type": [f'unknown type "{kind}"; expected one of {", ".join(ITEM_TYPES)}']}
    if kind in IDENTIFIER_TYPES and "identifier" in raw:
        if "person" in raw:
            return {"identifier": ["give person or identifier, not both"]}
        raw = {("person" if name == "identifier" else name): v for name, v in raw.items()}
    f = _Fields(raw)
    allowed = ITEM_FIELDS[kind]
    for name in raw:
        if name != "type" and name not in allowed:
            f.error(name, f"unknown field; a {kind} item has {', '.join(allowed)}")
        elif isinstance(raw[name], str | dict | list):
            # What the database cannot store (U+0000, numbers such as 1e400 inside data or
            # attributes) is refused here, per item and by its path, instead of failing the
            # whole request at the database. Plain numbers are left to their field's reader.
            problem = values.json_error(raw[name], name)
            if problem is not None:
                f.error(*problem)
    item = _PARSERS[kind](index, f, now)
    if item is None or f.errors:
        return f.errors
    return item


# --- entry points -------------------------------------------------------------------------------


def ingest(*, workspace: Workspace, items: Any) -> IngestOutcome:
    """Validate and store a batch; every item is answered on its own (SPEC §7).

    Raises ``DomainError`` only for a malformed batch as a whole (``items`` not a list, or over
    ``BATCH_LIMIT``); a bad item never stops the others.
    """
    if not isinstance(items, list):
        raise DomainError({"items": ["must be a list of items"]})
    if len(items) > BATCH_LIMIT:
        raise DomainError({"items": [f"at most {BATCH_LIMIT} items per request; got {len(items)}"]})
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    valid: list[Item] = []
    for index, raw in enumerate(items):
        parsed = parse_item(index, raw, now)
        if isinstance(parsed, dict):
            results[index] = ItemResult(index, HTTPStatus.BAD_REQUEST, errors=parsed)
        else:
            valid.append(parsed)

    touched = Touched()
    for attempt in range(1, STORE_ATTEMPTS + 1) if valid else ():
        touched = Touched()
        for item in valid:
            results[item.index] = None
        try:
            # Rows are stamped when their attempt begins, not when the request did: catch-up
            # after a goal build reads rows received since its oldest open transaction began
            # (``goals.engine.unseen_since``), and a retry may start long after the first try.
            stamp = now if attempt == 1 else timezone.now()
            with transaction.atomic():
                for phase in _phases(valid):
                    _Batch(workspace, stamp, results, touched).apply(phase)
                _Batch.refresh_reach(touched)
                if touched:
                    transaction.on_commit(_queue_processing(workspace.pk, touched))
            break
        except IntegrityError as exc:
            # A person deleted by a request that committed after this one read them: stored
            # again, the batch finds them gone and creates them anew, as if it came after the
            # deletion (which it does, by commit order). Nothing of the attempt was kept.
            vanished = getattr(exc.__cause__, "sqlstate", None) == _FOREIGN_KEY_VIOLATION
            if not vanished or attempt == STORE_ATTEMPTS or connection.in_atomic_block:
                raise
            logger.info("batch stored again: a person it names was deleted meanwhile")
    done = [r for r in results if r is not None]
    assert len(done) == len(items), "every item must be answered"
    return IngestOutcome(done, touched)


def _person_named(item: Item) -> str | None:
    """The identifier of the person an item writes to or deletes (metrics name a message)."""
    if isinstance(item, MetricIn):
        return None
    return item.identifier


def _phases(items: list[Item]) -> list[list[Item]]:
    """The items in runs that can each be applied by kind (``_Batch.apply``).

    Within a run the order of kinds does not change what is stored, except around a person's
    deletion: what comes after it for the same person belongs to a new person, as it would
    sent one request at a time. So a run ends before the first item naming a person that an
    earlier item of the run deleted. A batch without such an item is one run."""
    phases: list[list[Item]] = [[]]
    deleted: set[str] = set()
    for item in items:
        person = _person_named(item)
        if person is not None and person in deleted:
            phases.append([])
            deleted = set()
        phases[-1].append(item)
        if isinstance(item, DeleteIn):
            deleted.add(item.identifier)
    return phases


def ingest_one(
    *, workspace: Workspace, kind: str, body: Any, path: dict[str, str] | None = None
) -> ItemResult:
    """A single-item endpoint: ``body`` plus the URL's path parameters, as a batch of one.

    Path parameters (``person``, ``message``) come from the URL only; sending them in the body
    as well is an error rather than a silent override.
    """
    if not isinstance(body, dict):
        raise DomainError({"body": ["must be a JSON object"]})
    path = path or {}
    clash = {
        name: ["is given by the URL"]
        for name in body
        if name in path or name == "type" or (name == "identifier" and "person" in path)
    }
    if clash:
        return ItemResult(0, HTTPStatus.BAD_REQUEST, errors=clash)
    return ingest(workspace=workspace, items=[{**body, **path, "type": kind}]).results[0]


def _queue_processing(workspace_id: int, touched: Touched) -> Callable[[], None]:
    from campaigns.tasks import process_ingested

    def queue() -> None:
        # Runs after the commit: the rows are stored whatever happens here, so the request is
        # answered as stored. A failure (the task run in-process, or a broker not reachable
        # to queue it) is logged, not a 500: a client told nothing was stored would send its
        # events again, and those without an id would be stored twice. The reconcile pass
        # re-evaluates what arrived.
        try:
            process_ingested.delay(
                workspace_id,
                sorted(touched.message_ids),
                event_ids=touched.event_ids,
                segment_change_ids=touched.segment_change_ids,
                attribute_change_ids=touched.attribute_change_ids,
                pending_client_ids=sorted(touched.pending_client_ids),
            )
        except Exception:
            logger.exception(
                "workspace %s: processing of stored ingested rows failed", workspace_id
            )

    return queue


# --- the write side -----------------------------------------------------------------------------

M = TypeVar("M", bound=models.Model)
K = TypeVar("K")


def _json_equal(a: Any, b: Any) -> bool:
    # Python says True == 1 == 1.0; for attribute history a type change is a change.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _insert_new(
    model: type[M],
    objs: list[M],
    key: Callable[[M], K],
    stored_keys: Callable[[list[K]], set[K]],
) -> tuple[list[M], set[K]]:
    """``bulk_create`` rows whose keys the pre-check found free; returns (created, lost keys).

    The pre-check and the insert are not atomic: a concurrent request may commit the same event
    id / message id / metric between them. The unique constraint then fails our INSERT inside a
    savepoint; we ask which keys are now stored (the other transaction has committed, so READ
    COMMITTED sees them), drop those rows as "already stored", and insert the rest. A plain
    INSERT is used rather than ``ignore_conflicts`` because that skips RETURNING on
    PostgreSQL, and the new rows' ids are what the task needs.
    """
    lost: set[K] = set()
    while objs:
        try:
            with transaction.atomic():
                return model.objects.bulk_create(objs), lost  # type: ignore[attr-defined]
        except IntegrityError:
            found = stored_keys([key(o) for o in objs])
            if not found:
                raise
            lost |= found
            objs = [o for o in objs if key(o) not in found]
    return [], lost


def _apply_patch(attributes: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The attributes after ``patch``: merged key by key (shallow), a null value removes a key."""
    result = dict(attributes)
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def _by_time(items: Iterable[PersonIn]) -> list[PersonIn]:
    """Items in the order their patches apply: by timestamp, ties in item order (as ids are)."""
    return sorted(items, key=lambda i: i.timestamp)


def _new_person_state(items: list[PersonIn]) -> tuple[str, dict[str, Any]]:
    """A new person's email (last one sent wins) and attributes (patches by timestamp)."""
    email = ""
    for item in items:
        if item.email is not _UNSET:
            email = item.email
    attributes: dict[str, Any] = {}
    for item in _by_time(items):
        if item.attributes:
            attributes = _apply_patch(attributes, item.attributes)
    return email, attributes


def _save_fields(model: type[M], names: tuple[str, ...], objs: list[M]) -> None:
    """Write these fields of ``objs``: one UPDATE per row, sent at once.

    ``bulk_update`` builds a CASE expression per row and field in Python, which costs about
    0.5 ms a row; an ``executemany`` of a plain UPDATE (pipelined by psycopg 3) is a fraction
    of that. Values are prepared by the model fields, so JSON and datetimes are adapted as the
    ORM would for either database.
    """
    if not objs:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f.name in names]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(str(f.column))} = %s" for f in fields)
    pk = qn(str(meta.pk.column)) if meta.pk is not None else qn("id")
    sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {pk} = %s"
    rows = [
        [f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] + [o.pk]
        for o in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _people_save(people: list[Person]) -> None:
    """Write the people's email, attributes and updated_at."""
    _save_fields(Person, ("email", "attributes", "updated_at"), people)


class _Batch:
    """Steps 2 and 3 of ``ingest`` for the items that passed validation."""

    def __init__(
        self,
        workspace: Workspace,
        now: datetime,
        results: list[ItemResult | None],
        touched: Touched,
    ):
        self.workspace = workspace
        self.now = now
        self.results = results
        self.touched = touched
        self.people: dict[str, Person] = {}
        self.created_people: set[str] = set()
        self.messages: dict[str, Message] = {}

    def answer(
        self,
        item: Item,
        status: int,
        *,
        errors: Errors | None = None,
        id: str | None = None,
        obj: Any = None,
    ) -> None:
        self.results[item.index] = ItemResult(item.index, status, errors, id, obj)

    def reject(self, item: Item, name: str, reason: str, status: int = 400) -> None:
        self.answer(item, status, errors={name: [reason]})

    def apply(self, items: list[Item]) -> None:
        def of(kind: type[Any]) -> list[Any]:
            return [i for i in items if isinstance(i, kind)]

        persons, events, segments = of(PersonIn), of(EventIn), of(SegmentIn)
        messages, metrics, deletes = of(MessageIn), of(MetricIn), of(DeleteIn)

        # References first, so an item failing on one creates no person.
        segments = self._check_segments(segments)
        messages = self._check_message_sources(messages)
        self._load_messages(
            [m.client_id for m in messages] + [m.message_client_id for m in metrics]
        )
        messages = self._check_message_repeats(messages)

        identifiers = {i.identifier for i in (*persons, *events, *segments)}
        identifiers |= {m.identifier for m in messages if m.identifier is not None}
        self._load_people(identifiers, persons)

        self._upsert_people(persons)
        self._store_events(events)
        self._store_segment_changes(segments)
        self._store_messages(messages)
        self._store_metrics(metrics)
        self._delete_people(deletes)

    @staticmethod
    def refresh_reach(touched: Touched) -> None:
        """Derive the reach of the messages the batch touched, once its every run is stored.

        The reach these rows imply is derived in their own transaction, not by the task
        alone: a goal build that sees the rows must see their reach. Catch-up after a build
        re-reads only rows received since the oldest transaction open when it began, and the
        task may run minutes later (a queue behind), during a build, on the old result: the
        message then never qualified in the new one. Last, after every person lock, in id
        order: as a deletion takes them (the person, then their messages)."""
        if touched.message_ids:
            if connection.vendor == "postgresql":
                # The foreign keys are checked at commit, taking their people's key-share
                # locks then, after these message locks: a deletion holding the person and
                # waiting for its messages' locks would deadlock with this commit.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            services.message_reach_refresh(message_ids=sorted(touched.message_ids))

    # --- references -------------------------------------------------------------------------

    def _check_segments(self, items: list[SegmentIn]) -> list[SegmentIn]:
        if not items:
            return items
        deleted_at = dict(
            Segment.objects.in_workspace(self.workspace)
            .filter(pk__in={i.segment_id for i in items})
            .values_list("pk", "deleted_at")
        )
        ok = []
        for item in items:
            if item.segment_id not in deleted_at:
                self.reject(item, "segment", f"no segment with id {item.segment_id}")
            elif deleted_at[item.segment_id] is not None:
                self.reject(item, "segment", f"segment {item.segment_id} was deleted")
            else:
                ok.append(item)
        return ok

    def _check_message_sources(self, items: list[MessageIn]) -> list[MessageIn]:
        # Deleted campaigns and broadcasts are still accepted: a delivery reported late belongs
        # to the history the deletion promises to keep (SPEC §3).
        campaign_ids = {i.campaign_id for i in items if i.campaign_id is not None}
        broadcast_ids = {i.broadcast_id for i in items if i.broadcast_id is not None}
        campaigns: set[int] = set()
        broadcasts: set[int] = set()
        if campaign_ids:
            campaigns = set(
                Campaign.objects.in_workspace(self.workspace)
                .filter(pk__in=campaign_ids)
                .values_list("pk", flat=True)
            )
        if broadcast_ids:
            broadcasts = set(
                Broadcast.objects.in_workspace(self.workspace)
                .filter(pk__in=broadcast_ids)
                .values_list("pk", flat=True)
            )
        ok = []
        for item in items:
            errors: Errors = {}
            if item.campaign_id is not None and item.campaign_id not in campaigns:
                errors["campaign"] = [f"no campaign with id {item.campaign_id}"]
            if item.broadcast_id is not None and item.broadcast_id not in broadcasts:
                errors["broadcast"] = [f"no broadcast with id {item.broadcast_id}"]
            if errors:
                self.answer(item, HTTPStatus.BAD_REQUEST, errors=errors)
            else:
                ok.append(item)
        return ok

    def _load_messages(self, client_ids: list[str]) -> None:
        if client_ids:
            self.messages = {
                m.client_id: m
                for m in Message.objects.in_workspace(self.workspace)
                .filter(client_id__in=set(client_ids))
                .select_related("person")
            }

    def _same_message(self, stored: Message, item: MessageIn) -> bool:
        if stored.person is not None:
            same_person = stored.person.identifier == item.identifier
        else:
            # No person: anonymous, or the person was deleted since (then the identifier is
            # gone with their personal data and a retry cannot be told apart; accept it).
            same_person = (item.identifier is None) == (stored.person_key is None)
        return (
            same_person
            and (
                stored.channel,
                stored.campaign_id,
                stored.broadcast_id,
                stored.anonymous,
                stored.sent_at,
            )
            == item.content()[1:]
        )

    def _repeat(self, item: MessageIn, stored: Message) -> None:
        if self._same_message(stored, item):
            self.answer(item, HTTPStatus.OK, id=item.client_id, obj=stored)
        else:
            self.reject(
                item,
                "id",
                f"a different message with id {item.client_id!r} is already stored",
                HTTPStatus.CONFLICT,
            )

    def _check_message_repeats(self, items: list[MessageIn]) -> list[MessageIn]:
        """Answer repeats of stored ids; keep the first of each new id (later ones wait)."""
        first: dict[str, MessageIn] = {}
        new = []
        for item in items:
            stored = self.messages.get(item.client_id)
            if stored is not None:
                self._repeat(item, stored)
            elif item.client_id in first:
                new.append(item)  # answered once the first one is stored
            else:
                first[item.client_id] = item
                new.append(item)
        return new

    # --- people -----------------------------------------------------------------------------

    def _load_people(self, identifiers: set[str], upserts: list[PersonIn]) -> None:
        """Fetch, or create, every person the batch names, in three queries at most.

        With person upserts in the batch the rows are locked (``FOR NO KEY UPDATE``, in id
        order) so two requests merging attributes into the same person cannot lose each other's
        keys. Missing people are inserted with ``ON CONFLICT DO NOTHING``, already carrying what
        this batch's person items make of them (no second write): a concurrent request creating
        the same identifier makes us wait for it and then skip the row, the re-select returns
        theirs, and our items are then merged into it like into any existing person. Our own
        rows are recognised by the key we generated.
        """
        if not identifiers:
            return
        people = Person.objects.in_workspace(self.workspace)
        if upserts:
            # FOR NO KEY UPDATE: attribute merges never change the key, so concurrent inserts
            # of events referencing these people (which take KEY SHARE locks) are not blocked.
            people = people.select_for_update(no_key=True).order_by("pk")
        else:
            # Events, segment changes and messages only need the link and the key; skipping the
            # attributes JSON halves this query's cost for a 1,000-item batch.
            people = people.only("id", "workspace_id", "identifier", "key")
        self.people = {p.identifier: p for p in people.filter(identifier__in=identifiers)}
        missing = sorted(identifiers - self.people.keys())
        if not missing:
            return
        items_of: dict[str, list[PersonIn]] = {}
        for item in upserts:
            if item.identifier not in self.people:
                items_of.setdefault(item.identifier, []).append(item)
        new = []
        for identifier in missing:
            email, attributes = _new_person_state(items_of.get(identifier, []))
            new.append(
                Person(
                    workspace=self.workspace,
                    identifier=identifier,
                    email=email,
                    attributes=attributes,
                    key=uuid.uuid4(),
                    created_at=self.now,
                    updated_at=self.now,
                )
            )
        Person.objects.bulk_create(new, ignore_conflicts=True)
        ours = {p.key for p in new}
        for person in people.filter(identifier__in=missing):
            self.people[person.identifier] = person
            if person.key in ours:
                self.created_people.add(person.identifier)

    def _upsert_people(self, items: list[PersonIn]) -> None:
        """Store each item's attribute patch and bring snapshots and people up to date.

        The email follows item order. Attributes do not depend on arrival order: every
        non-empty patch becomes a ``PersonAttributeChange`` at its timestamp, the snapshots
        from there on are rebuilt (``_store_attribute_changes``), and the person's current
        attributes are the snapshot of their latest change by (timestamp, id). People this
        request created were inserted with that result already (``_new_person_state``).
        """
        if not items:
            return
        emails: dict[str, str] = {}
        changes: list[PersonAttributeChange] = []
        seen: set[str] = set()
        for item in items:
            person = self.people[item.identifier]
            created = item.identifier in self.created_people and item.identifier not in seen
            seen.add(item.identifier)
            if item.email is not _UNSET:
                emails[item.identifier] = item.email
            # A creation with attributes (even {}) records its starting state; after that only
            # a patch that says something does. A patch that changes nothing still gets a row:
            # whether it changes anything can depend on patches that have not arrived yet.
            if item.attributes or (created and item.attributes is not None):
                changes.append(
                    PersonAttributeChange(
                        workspace=self.workspace,
                        person=person,
                        person_key=person.key,
                        timestamp=item.timestamp,
                        patch=item.attributes,
                        received_at=self.now,
                    )
                )
            self.answer(
                item,
                HTTPStatus.CREATED if created else HTTPStatus.OK,
                id=item.identifier,
                obj=person,
            )
        latest = self._store_attribute_changes(changes)
        dirty = []
        for identifier in seen:
            person = self.people[identifier]
            email = emails.get(identifier, person.email)
            attributes = latest.get(person.pk, person.attributes)
            if email != person.email or not _json_equal(attributes, person.attributes):
                person.email, person.attributes = email, attributes
                person.updated_at = self.now
                dirty.append(person)
        _people_save(dirty)

    def _store_attribute_changes(
        self, changes: list[PersonAttributeChange]
    ) -> dict[int, dict[str, Any]]:
        """Insert ``changes`` (patches) with their snapshots and rebuild the later snapshots.

        For each person, the snapshots from their earliest new timestamp on are replayed from
        the snapshot just before it, applying patches in (timestamp, id) order; new rows sort
        after stored rows with the same timestamp, in item order, as their ids will. Two
        queries read what that needs for the whole batch: the stored changes at or after the
        batch's earliest timestamp, and each person's last snapshot before it. The people rows
        are locked (``_load_people``), so no concurrent request changes these histories.

        Returns each person's latest snapshot (their current attributes).
        """
        if not changes:
            return {}
        since = min(c.timestamp for c in changes)
        people = {c.person_id: c.person for c in changes}
        known = [p for p in people.values() if p.identifier not in self.created_people]
        # person id -> [(sort key, stored id or None, patch, snapshot or the new row)]
        history: dict[int, list[tuple[tuple[Any, ...], Any, dict[str, Any], Any]]] = {}
        bases: dict[int, dict[str, Any]] = {}
        if known:
            stored = PersonAttributeChange.objects.filter(
                person_key__in=[p.key for p in known], timestamp__gte=since
            ).values_list("id", "person_id", "timestamp", "patch", "attributes")
            for pk, person_id, at, patch, attributes in stored:
                history.setdefault(person_id, []).append(((at, 0, pk), pk, patch, attributes))
            before = Subquery(
                PersonAttributeChange.objects.filter(
                    person_key=OuterRef("key"), timestamp__lt=since
                )
                .order_by("-timestamp", "-id")
                .values("attributes")[:1],
                output_field=models.JSONField(),
            )
            bases = {
                pk: attributes
                for pk, attributes in Person.objects.filter(pk__in=[p.pk for p in known])
                .annotate(before=before)
                .values_list("pk", "before")
                if attributes is not None
            }
        for order, change in enumerate(changes):
            history.setdefault(change.person_id, []).append(
                ((change.timestamp, 1, order), None, change.patch, change)
            )

        latest: dict[int, dict[str, Any]] = {}
        rebuilt: list[PersonAttributeChange] = []
        for person_id, rows in history.items():
            rows.sort(key=lambda row: row[0])
            first_new = min(key[0] for key, pk, _, _ in rows if pk is None)
            state = bases.get(person_id, {})
            for (at, _, _), pk, patch, row in rows:
                if at < first_new:
                    state = row  # a stored snapshot before anything new: still right
                    continue
                state = _apply_patch(state, patch or {})
                if pk is None:
                    row.attributes = state
                elif not _json_equal(state, row):
                    rebuilt.append(PersonAttributeChange(pk=pk, attributes=state))
            latest[person_id] = state
        _save_fields(PersonAttributeChange, ("attributes",), rebuilt)
        created = PersonAttributeChange.objects.bulk_create(changes)
        self.touched.attribute_change_ids.extend(c.pk for c in created)
        self.touched.attribute_change_ids.extend(c.pk for c in rebuilt)
        return latest

    def _delete_people(self, items: list[DeleteIn]) -> None:
        for item in items:
            person = (
                Person.objects.in_workspace(self.workspace)
                .filter(identifier=item.identifier)
                .first()
            )
            if person is None:
                self.reject(item, "person", f"no person with identifier {item.identifier!r}", 404)
                continue
            services.person_delete(person=person)
            self.people.pop(item.identifier, None)
            self.answer(item, HTTPStatus.NO_CONTENT, id=item.identifier)

    # --- events and segment changes ---------------------------------------------------------

    def _stored_events(self, client_ids: Iterable[str]) -> dict[str, Event]:
        return {
            e.client_id: e
            for e in Event.objects.in_workspace(self.workspace)
            .filter(client_id__in=set(client_ids))
            .select_related("person")
            if e.client_id is not None
        }

    def _store_events(self, items: list[EventIn]) -> None:
        if not items:
            return
        stored = self._stored_events(i.client_id for i in items if i.client_id is not None)
        to_insert: list[tuple[EventIn, Event]] = []
        pending: dict[str, Event] = {}
        repeats: list[EventIn] = []
        for item in items:
            if item.client_id is not None and (
                item.client_id in stored or item.client_id in pending
            ):
                repeats.append(item)
                continue
            person = self.people[item.identifier]
            event = Event(
                workspace=self.workspace,
                person=person,
                person_key=person.key,
                name=item.name,
                data=item.data,
                timestamp=item.timestamp,
                client_id=item.client_id,
                received_at=self.now,
            )
            to_insert.append((item, event))
            if item.client_id is not None:
                pending[item.client_id] = event

        def stored_keys(keys: list[str | None]) -> set[str | None]:
            found = self._stored_events(k for k in keys if k is not None)
            stored.update(found)
            return set(found)

        created, lost = _insert_new(
            Event, [e for _, e in to_insert], lambda e: e.client_id, stored_keys
        )
        self.touched.event_ids.extend(e.pk for e in created)
        for item, event in to_insert:
            if event.client_id in lost:
                repeats.append(item)
            else:
                self.answer(item, HTTPStatus.CREATED, id=item.client_id, obj=event)
        for item in repeats:
            assert item.client_id is not None
            if item.client_id in lost or item.client_id not in pending:
                obj = stored[item.client_id]
            else:
                obj = pending[item.client_id]
            if obj.person_id is not None and obj.person_id != self.people[item.identifier].pk:
                # Not a repeat: another person's event under the id (ids numbered per person).
                # Answered 200 it was dropped, and which person's counted depended on arrival.
                self.reject(
                    item,
                    "id",
                    f"an event of another person with id {item.client_id!r} is already stored",
                    HTTPStatus.CONFLICT,
                )
                continue
            self.answer(item, HTTPStatus.OK, id=item.client_id, obj=obj)

    def _store_segment_changes(self, items: list[SegmentIn]) -> None:
        if not items:
            return
        changes = []
        for item in items:
            person = self.people[item.identifier]
            changes.append(
                SegmentMembershipChange(
                    workspace=self.workspace,
                    segment_id=item.segment_id,
                    person=person,
                    person_key=person.key,
                    action=item.action,
                    timestamp=item.timestamp,
                    received_at=self.now,
                )
            )
        created = SegmentMembershipChange.objects.bulk_create(changes)
        self.touched.segment_change_ids.extend(c.pk for c in created)
        for item, change in zip(items, created, strict=True):
            self.answer(item, HTTPStatus.CREATED, obj=change)

    # --- messages and metrics ---------------------------------------------------------------

    def _store_messages(self, items: list[MessageIn]) -> None:
        if not items:
            return
        first: dict[str, MessageIn] = {}
        to_insert: list[Message] = []
        for item in items:
            if item.client_id in first:
                continue
            first[item.client_id] = item
            person = self.people[item.identifier] if item.identifier is not None else None
            to_insert.append(
                Message(
                    workspace=self.workspace,
                    client_id=item.client_id,
                    person=person,
                    person_key=person.key if person is not None else None,
                    channel=item.channel,
                    campaign_id=item.campaign_id,
                    broadcast_id=item.broadcast_id,
                    anonymous=item.anonymous,
                    sent_at=item.sent_at,
                    received_at=self.now,
                )
            )

        def stored_keys(keys: list[str]) -> set[str]:
            found = (
                Message.objects.in_workspace(self.workspace)
                .filter(client_id__in=keys)
                .select_related("person")
            )
            self.messages.update({m.client_id: m for m in found})
            return {m.client_id for m in found}

        created, lost = _insert_new(Message, to_insert, lambda m: m.client_id, stored_keys)
        for message in created:
            self.messages[message.client_id] = message
            self.touched.message_ids.add(message.pk)
        # Metrics that came first waited for these messages (``_keep_pending``); they are
        # stored now, and their reach derived with the batch's (``apply``).
        services.pending_metrics_apply(
            workspace_id=self.workspace.pk, client_ids=[m.client_id for m in created]
        )
        for item in items:
            stored = self.messages[item.client_id]
            if first[item.client_id] is item and item.client_id not in lost:
                self.answer(item, HTTPStatus.CREATED, id=item.client_id, obj=stored)
            elif item.client_id in lost:
                self._repeat(item, stored)
            elif item.content() == first[item.client_id].content():
                self.answer(item, HTTPStatus.OK, id=item.client_id, obj=stored)
            else:
                self.reject(
                    item,
                    "id",
                    f"a different message with id {item.client_id!r} is in this batch",
                    HTTPStatus.CONFLICT,
                )

    def _store_metrics(self, items: list[MetricIn]) -> None:
        if not items:
            return
        valid: list[tuple[MetricIn, Message]] = []
        waiting: list[MetricIn] = []
        for item in items:
            message = self.messages.get(item.message_client_id)
            if message is None:
                waiting.append(item)
                continue
            reason = channels.metric_error(message.channel, item.metric)
            if reason is not None:
                self.reject(item, "metric", reason)
                continue
            valid.append((item, message))
        self._keep_pending(waiting)
        if not valid:
            return

        def stored_keys(keys: list[MetricKey]) -> set[MetricKey]:
            rows = MessageMetric.objects.filter(message_id__in={k[0] for k in keys}).values_list(
                "message_id", "metric", "timestamp", "machine"
            )
            return set(rows) & set(keys)

        def key(m: MessageMetric) -> MetricKey:
            return (m.message_id, m.metric, m.timestamp, m.machine)

        stored = stored_keys([(m.pk, i.metric, i.timestamp, i.machine) for i, m in valid])
        to_insert: list[MessageMetric] = []
        rows: list[tuple[MetricIn, MessageMetric]] = []
        pending: set[MetricKey] = set()
        for item, message in valid:
            metric = MessageMetric(
                workspace=self.workspace,
                message=message,
                metric=item.metric,
                timestamp=item.timestamp,
                machine=item.machine,
                received_at=self.now,
            )
            rows.append((item, metric))
            if key(metric) not in stored and key(metric) not in pending:
                pending.add(key(metric))
                to_insert.append(metric)
        created, _ = _insert_new(MessageMetric, to_insert, key, stored_keys)
        new_rows = {id(m) for m in created}
        for metric in created:
            self.touched.message_ids.add(metric.message_id)
        for item, metric in rows:
            status = HTTPStatus.CREATED if id(metric) in new_rows else HTTPStatus.OK
            self.answer(item, status, obj=metric)

    def _keep_pending(self, items: list[MetricIn]) -> None:
        """Keep metrics whose message is not stored (yet) until it is: 202 (SPEC §4.5).

        Refusing them would make the outcome depend on arrival order. A repeat is kept once.
        The task queued on commit looks for their message again, in case it was stored by a
        request that committed meanwhile and so could not see them.
        """
        if not items:
            return
        rows = [
            PendingMetric(
                workspace=self.workspace,
                message_client_id=item.message_client_id,
                metric=item.metric,
                timestamp=item.timestamp,
                machine=item.machine,
                received_at=self.now,
            )
            for item in items
        ]
        PendingMetric.objects.bulk_create(rows, ignore_conflicts=True)
        self.touched.pending_client_ids.update(item.message_client_id for item in items)
        for item, row in zip(items, rows, strict=True):
            self.answer(item, HTTPStatus.ACCEPTED, obj=row)
