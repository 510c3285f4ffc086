"""Validation of a goal's criteria, impact, attribution settings and sources (SPEC §4, §7).

Each ``*_clean`` function takes the JSON a client sent and returns the cleaned value, or raises
``DomainError`` whose keys are dotted paths to the offending field (``criteria.trigger.name``,
``criteria.filters.1.segment``, ``impact.currency``, ``attribution.metrics.sms``,
``sources.0.id``), with every problem found, not just the first. ``goals.services`` calls them,
so the API, the admin and scripts share one set of rules.

Cleaned criteria are canonical JSON, the shape ``goals.engine`` reads:

* ``{"trigger": {...}, "filters": [...]}``, both keys always present;
* event triggers always carry ``conditions`` (possibly ``[]``); segment filters always carry
  ``in``; a condition carries ``value`` only when its operator takes one;
* optional keys that were left out (or null) are absent; ids are integers.

References to segments, campaigns and broadcasts must be rows of the goal's workspace.
Soft-deleted ones cannot be newly referenced, but a reference the goal already had stays
valid after the row is deleted, so a client can send a goal back unchanged (SPEC §3: deletion
hides, it does not rewrite history).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from campaigns import channels, values
from campaigns.errors import DomainError
from campaigns.models import Broadcast, BroadcastKind, Campaign, Segment, Workspace
from goals import currencies
from goals.conditions import OPERATORS, VALUELESS_OPERATORS, as_decimal
from goals.models import money_fits

TRIGGER_TYPES: Final = ("event", "attribute", "segment", "message")
FILTER_TYPES: Final = ("attribute", "segment")
SOURCE_TYPES: Final = ("campaign", "broadcast")
#: What a client may call transactional messages (a message from neither) as a source.
TRANSACTIONAL_TYPES: Final = ("transactional", "message")
COMPARISONS: Final = frozenset({"gt", "gte", "lt", "lte"})

#: The keys each object may carry; anything else is refused, naming it.
TRIGGER_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "event": ("type", "name", "conditions"),
    "attribute": ("type", "key", "op", "value"),
    "segment": ("type", "segment"),
    "message": ("type", "metric", "channel", "campaign", "broadcast"),
}
FILTER_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "attribute": ("type", "key", "op", "value"),
    "segment": ("type", "segment", "in"),
}
CONDITION_KEYS: Final = ("key", "op", "value")
IMPACT_KEYS: Final = ("currency", "static", "event_key")
ATTRIBUTION_KEYS: Final = ("window_days", "metrics", "count_machine")
#: ``name`` and ``deleted`` are what the API returns for a source; accepting (and ignoring)
#: them lets a client send a goal back as it read it.
SOURCE_KEYS: Final = ("type", "id", "name", "deleted")

MAX_KEY_LENGTH: Final = 255
MAX_WINDOW_DAYS: Final = 90
DEFAULT_WINDOW_DAYS: Final = 7
#: ``goals.models.MONEY_DIGITS`` / ``MONEY_PLACES``: 18 digits, 6 of them decimals.
MAX_AMOUNT: Final = Decimal(10) ** 12
#: The first amount of at most four decimals (CLF's) that ``money_fits`` refuses.
MAX_STATIC_AMOUNT: Final = Decimal("999999999999.9995")

REQUIRED: Final = "This field is required."

#: A source as the API names it: ("campaign" | "broadcast", id).
SourceRef = tuple[str, int]


class _Errors:
    """Every error found in one request, by dotted path."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, reason: str) -> None:
        self.errors.setdefault(path, []).append(reason)

    def unknown_keys(
        self, raw: Mapping[str, Any], allowed: Iterable[str], path: str, what: str
    ) -> None:
        names = tuple(allowed)
        for key in raw:
            if key not in names:
                self.add(f"{path}.{key}", f"unknown field; {what} takes {', '.join(names)}")

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainError(self.errors)


@dataclass
class _References:
    """Ids the criteria point at, with the path of each, checked in one query per model."""

    segment: list[tuple[str, int]] = field(default_factory=list)
    campaign: list[tuple[str, int]] = field(default_factory=list)
    broadcast: list[tuple[str, int]] = field(default_factory=list)


# --- small field readers --------------------------------------------------------------------


def _pk(raw: Mapping[str, Any], name: str, path: str, errors: _Errors) -> int | None:
    """An id: an integer within 64 bits (a string of digits is read as one, as ingestion does)."""
    try:
        return values.parse_id(raw.get(name))
    except ValueError as exc:
        errors.add(f"{path}.{name}", str(exc))
        return None


def _dotted_key(value: Any, path: str, errors: _Errors, *, what: str = "key") -> str | None:
    if value is None:
        errors.add(path, REQUIRED)
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(path, f"must be a non-empty {what}")
        return None
    if len(value) > MAX_KEY_LENGTH:
        errors.add(path, f"must be at most {MAX_KEY_LENGTH} characters")
        return None
    if "\x00" in value:  # PostgreSQL's JSON cannot store it (a 500 there)
        errors.add(path, values.NUL_ERROR)
        return None
    if any(part == "" for part in value.split(".")):
        article = "an" if what[0] in "aeiou" else "a"
        errors.add(
            path, f"must be {article} {what} or a dotted path like plan.tier (no empty parts)"
        )
        return None
    return value


def _condition(raw: Mapping[str, Any], path: str, errors: _Errors) -> dict[str, Any] | None:
    """``key``, ``op`` and (unless the operator takes none) ``value`` of a condition."""
    key = _dotted_key(raw.get("key"), f"{path}.key", errors)
    op = raw.get("op")
    if op is None:
        errors.add(f"{path}.op", REQUIRED)
        return None
    if op not in OPERATORS:
        errors.add(f"{path}.op", f'unknown operator "{op}"; expected one of {", ".join(OPERATORS)}')
        return None
    cleaned: dict[str, Any] = {"key": key, "op": op}
    if op in VALUELESS_OPERATORS:
        # A value sent with exists / not_exists means nothing; it is dropped, not stored.
        return cleaned if key is not None else None
    value = raw.get("value")
    if value is None:
        hint = "" if "value" not in raw else "; to test for a missing key use not_exists"
        errors.add(f"{path}.value", f"required for the {op} operator{hint}")
        return None
    if op in COMPARISONS:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            errors.add(f"{path}.value", f"must be a number or a string for the {op} operator")
            return None
    elif not isinstance(value, str | int | float | bool):
        errors.add(f"{path}.value", "must be a string, a number or a boolean")
        return None
    problem = values.json_error(value, f"{path}.value")
    if problem is not None:
        errors.add(*problem)
        return None
    cleaned["value"] = value
    return cleaned if key is not None else None


# --- criteria -------------------------------------------------------------------------------


def _trigger(raw: Any, path: str, errors: _Errors, refs: _References) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.add(path, "must be an object with a type")
        return None
    kind = raw.get("type")
    if kind is None:
        errors.add(f"{path}.type", REQUIRED)
        return None
    if kind not in TRIGGER_TYPES:
        errors.add(
            f"{path}.type",
            f'unknown trigger type "{kind}"; expected one of {", ".join(TRIGGER_TYPES)}',
        )
        return None
    before = len(errors.errors)
    errors.unknown_keys(raw, TRIGGER_KEYS[kind], path, f"an {kind} trigger")
    cleaned: dict[str, Any] | None = {"type": kind}

    if kind == "event":
        name = raw.get("name")
        if name is None:
            errors.add(f"{path}.name", REQUIRED)
        elif not isinstance(name, str) or not name.strip():
            errors.add(f"{path}.name", "must be a non-empty event name")
        elif len(name) > MAX_KEY_LENGTH:
            errors.add(f"{path}.name", f"must be at most {MAX_KEY_LENGTH} characters")
        elif "\x00" in name:  # PostgreSQL's JSON cannot store it (a 500 there)
            errors.add(f"{path}.name", values.NUL_ERROR)
        conditions = raw.get("conditions")
        clean_conditions: list[dict[str, Any]] = []
        if conditions is not None and not isinstance(conditions, list):
            errors.add(f"{path}.conditions", "must be a list of {key, op, value} conditions")
        for index, condition in enumerate(conditions if isinstance(conditions, list) else []):
            where = f"{path}.conditions.{index}"
            if not isinstance(condition, dict):
                errors.add(where, "must be an object with key, op and value")
                continue
            errors.unknown_keys(condition, CONDITION_KEYS, where, "a condition")
            clean = _condition(condition, where, errors)
            if clean is not None:
                clean_conditions.append(clean)
        cleaned = {"type": kind, "name": name, "conditions": clean_conditions}

    elif kind == "attribute":
        condition = _condition(raw, path, errors)
        cleaned = {"type": kind, **condition} if condition is not None else None

    elif kind == "segment":
        segment = _pk(raw, "segment", path, errors)
        if segment is not None:
            refs.segment.append((f"{path}.segment", segment))
            cleaned = {"type": kind, "segment": segment}

    else:  # message
        cleaned = _message_trigger(raw, path, errors, refs)

    return cleaned if len(errors.errors) == before else None


def _message_trigger(
    raw: Mapping[str, Any], path: str, errors: _Errors, refs: _References
) -> dict[str, Any] | None:
    cleaned: dict[str, Any] = {"type": "message"}
    metric = raw.get("metric")
    if metric is None:
        errors.add(f"{path}.metric", REQUIRED)
    elif metric not in channels.ALL_METRICS:
        errors.add(
            f"{path}.metric",
            f'unknown metric "{metric}"; expected one of {", ".join(channels.ALL_METRICS)}',
        )
    else:
        cleaned["metric"] = metric
    channel = raw.get("channel")
    if channel is not None:
        if channel not in channels.CHANNELS:
            errors.add(
                f"{path}.channel",
                f'unknown channel "{channel}"; expected one of {", ".join(channels.CHANNELS)}',
            )
        else:
            cleaned["channel"] = channel
            problem = (
                channels.metric_error(channel, cleaned["metric"]) if "metric" in cleaned else None
            )
            if problem is not None:
                errors.add(f"{path}.metric", problem)
    for kind in ("campaign", "broadcast"):
        if raw.get(kind) is not None:
            pk = _pk(raw, kind, path, errors)
            if pk is not None:
                getattr(refs, kind).append((f"{path}.{kind}", pk))
                cleaned[kind] = pk
    if raw.get("campaign") is not None and raw.get("broadcast") is not None:
        errors.add(path, "give campaign or broadcast, not both: a message has one source")
    return cleaned


def _filter(raw: Any, path: str, errors: _Errors, refs: _References) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.add(path, "must be an object with a type")
        return None
    kind = raw.get("type")
    if kind is None:
        errors.add(f"{path}.type", REQUIRED)
        return None
    if kind not in FILTER_TYPES:
        errors.add(
            f"{path}.type", f'unknown filter type "{kind}"; expected one of attribute, segment'
        )
        return None
    errors.unknown_keys(raw, FILTER_KEYS[kind], path, f"a {kind} filter")
    if kind == "attribute":
        condition = _condition(raw, path, errors)
        return {"type": kind, **condition} if condition is not None else None
    segment = _pk(raw, "segment", path, errors)
    member = raw.get("in")
    if member is None:
        member = True
    elif not isinstance(member, bool):
        errors.add(f"{path}.in", "must be true (is in the segment) or false (is not)")
        return None
    if segment is None:
        return None
    refs.segment.append((f"{path}.segment", segment))
    return {"type": kind, "segment": segment, "in": member}


def _references_of(criteria: Mapping[str, Any] | None) -> dict[str, set[int]]:
    """The ids stored criteria point at, by model noun."""
    found: dict[str, set[int]] = {"segment": set(), "campaign": set(), "broadcast": set()}
    if not isinstance(criteria, Mapping):
        return found
    trigger = criteria.get("trigger")
    parts = [trigger, *(criteria.get("filters") or [])]
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        for noun, ids in found.items():
            value = part.get(noun)
            if isinstance(value, int):
                ids.add(value)
    return found


def _check_references(
    refs: _References,
    *,
    workspace: Workspace,
    previous: Mapping[str, Any] | None,
    errors: _Errors,
) -> None:
    kept = _references_of(previous)
    models: tuple[tuple[str, Any], ...] = (
        ("segment", Segment),
        ("campaign", Campaign),
        ("broadcast", Broadcast),
    )
    for noun, model in models:
        wanted: list[tuple[str, int]] = getattr(refs, noun)
        if not wanted:
            continue
        rows = dict(
            model.objects.in_workspace(workspace)
            .filter(pk__in={pk for _, pk in wanted})
            .values_list("pk", "deleted_at")
        )
        for path, pk in wanted:
            if pk not in rows:
                errors.add(path, f"no {noun} with id {pk} in this workspace")
            elif rows[pk] is not None and pk not in kept[noun]:
                errors.add(path, f"{noun} {pk} is deleted")


def criteria_clean(
    data: Any, *, workspace: Workspace, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validate ``{"trigger": {...}, "filters": [...]}``; ``previous`` is the goal's stored
    criteria, whose (since deleted) references stay acceptable."""
    if not isinstance(data, dict):
        raise DomainError({"criteria": ["must be an object with a trigger and optional filters"]})
    errors = _Errors()
    refs = _References()
    errors.unknown_keys(data, ("trigger", "filters"), "criteria", "criteria")
    trigger = None
    if data.get("trigger") is None:
        errors.add("criteria.trigger", REQUIRED)
    else:
        trigger = _trigger(data["trigger"], "criteria.trigger", errors, refs)
    filters = data.get("filters")
    clean_filters = []
    if filters is not None and not isinstance(filters, list):
        errors.add("criteria.filters", "must be a list of filters")
    for index, item in enumerate(filters if isinstance(filters, list) else []):
        clean = _filter(item, f"criteria.filters.{index}", errors, refs)
        if clean is not None:
            clean_filters.append(clean)
    _check_references(refs, workspace=workspace, previous=previous, errors=errors)
    errors.raise_if_any()
    return {"trigger": trigger, "filters": clean_filters}


def trigger_type_of(data: Any) -> str | None:
    """The trigger type of (possibly invalid) criteria, when it can be told."""
    if isinstance(data, Mapping) and isinstance(data.get("trigger"), Mapping):
        kind = data["trigger"].get("type")
        return kind if kind in TRIGGER_TYPES else None
    return None


# --- impact ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Impact:
    """What one achievement is worth: a static amount, or an event data key to read."""

    currency: str
    static: Decimal | None = None
    event_key: str = ""


def _amount(value: Any, currency: str | None, path: str, errors: _Errors) -> Decimal | None:
    # A number or numeric string as conditions and event-key amounts read one: a decimal
    # literal in ASCII digits (Python's Decimal also took "1_000" and other scripts' digits).
    amount = as_decimal(value) if isinstance(value, int | float | str) else None
    if amount is None:
        errors.add(path, 'must be a decimal amount such as "12.50"')
        return None
    if amount < 0:
        errors.add(path, "must be zero or more")
        return None
    amount = abs(amount)  # "-0" is zero, never shown as "-0.00"
    if amount >= MAX_AMOUNT:
        errors.add(path, f"must be less than {MAX_AMOUNT:f}")
        return None
    if not money_fits(amount):  # a CLF 999999999999.9999: SQLite would read it as 10^12
        errors.add(path, f"must be less than {MAX_STATIC_AMOUNT:f}")
        return None
    places = currencies.minor_units(currency) if currency else None
    if places is None:
        return amount
    quantum = Decimal(1).scaleb(-places)
    if amount != amount.quantize(quantum):
        detail = "no decimals" if places == 0 else f"at most {places} decimals"
        errors.add(path, f"{currency} amounts have {detail}")
        return None
    return amount.quantize(quantum)


def impact_clean(data: Any, *, trigger_type: str | None) -> Impact | None:
    """Validate ``null`` or ``{"currency", "static"?, "event_key"?}`` (exactly one of the two).

    ``trigger_type`` is the goal's trigger type (None when unknown: the event_key rule is
    then not checked, the criteria's own error is reported instead).
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise DomainError(
            {"impact": ["must be null or an object with currency and static or event_key"]}
        )
    errors = _Errors()
    errors.unknown_keys(data, IMPACT_KEYS, "impact", "impact")
    currency = data.get("currency")
    if currency is None:
        errors.add("impact.currency", REQUIRED)
    elif not isinstance(currency, str) or currencies.minor_units(currency.strip().upper()) is None:
        errors.add(
            "impact.currency",
            f'unknown currency "{currency}"; expected an ISO 4217 code such as EUR or USD',
        )
        currency = None
    else:
        currency = currency.strip().upper()
    static_raw, event_key_raw = data.get("static"), data.get("event_key")
    static = event_key = None
    if static_raw is None and event_key_raw is None:
        errors.add(
            "impact",
            "give either static (an amount per achievement) or event_key (an event data key "
            "holding the amount)",
        )
    elif static_raw is not None and event_key_raw is not None:
        errors.add("impact", "give static or event_key, not both")
    elif static_raw is not None:
        static = _amount(static_raw, currency, "impact.static", errors)
    else:
        event_key = _dotted_key(event_key_raw, "impact.event_key", errors, what="event data key")
        if trigger_type is not None and trigger_type != "event":
            errors.add("impact.event_key", "event_key is only available for event triggers")
    errors.raise_if_any()
    assert isinstance(currency, str)
    return Impact(currency=currency, static=static, event_key=event_key or "")


# --- attribution settings -------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    window_days: int = DEFAULT_WINDOW_DAYS
    metrics: dict[str, str] = field(default_factory=channels.default_attribution_metrics)
    count_machine: bool = True


def attribution_clean(data: Any) -> Attribution:
    """Validate ``{"window_days", "metrics", "count_machine"}``.

    The object is the whole setting: keys left out (or null) take their defaults (a window of
    7 days, ``delivered`` where the channel has it else ``sent``, machine opens and clicks
    counted), and so do channels left out of ``metrics`` (or null). ``null`` means all
    defaults.
    """
    if data is None:
        return Attribution()
    if not isinstance(data, dict):
        raise DomainError(
            {"attribution": ["must be an object with window_days, metrics and count_machine"]}
        )
    errors = _Errors()
    errors.unknown_keys(data, ATTRIBUTION_KEYS, "attribution", "attribution")

    window = data.get("window_days")
    if window is None:
        window = DEFAULT_WINDOW_DAYS
    elif (
        isinstance(window, bool)
        or not isinstance(window, int)
        or not 0 <= window <= MAX_WINDOW_DAYS
    ):
        errors.add(
            "attribution.window_days", f"must be a whole number of days from 0 to {MAX_WINDOW_DAYS}"
        )

    metrics = channels.default_attribution_metrics()
    given = data.get("metrics")
    if given is not None and not isinstance(given, dict):
        errors.add("attribution.metrics", "must be an object mapping channels to metrics")
    for channel, metric in (given if isinstance(given, dict) else {}).items():
        path = f"attribution.metrics.{channel}"
        if channel not in channels.CHANNEL_CHAINS:
            errors.add(
                path, f'unknown channel "{channel}"; expected one of {", ".join(channels.CHANNELS)}'
            )
            continue
        if metric is None:  # as a null key: the channel's default
            continue
        chain = channels.CHANNEL_CHAINS[channel]
        problem = channels.metric_error(channel, metric) if isinstance(metric, str) else None
        if problem is None and metric not in chain:
            problem = (
                f'"{metric}" never qualifies a message for attribution; '
                f"the {channel} channel qualifies on one of {', '.join(chain)}"
            )
        if problem is not None:
            errors.add(path, problem)
        else:
            metrics[channel] = metric

    count_machine = data.get("count_machine")
    if count_machine is None:
        count_machine = True
    elif not isinstance(count_machine, bool):
        errors.add("attribution.count_machine", "must be true or false")

    errors.raise_if_any()
    return Attribution(window_days=window, metrics=metrics, count_machine=count_machine)


# --- sources --------------------------------------------------------------------------------


def source_ref(source: Campaign | Broadcast) -> SourceRef:
    return ("campaign", source.pk) if isinstance(source, Campaign) else ("broadcast", source.pk)


def source_error(
    source: Campaign | Broadcast, *, workspace: Workspace, already_selected: bool = False
) -> str | None:
    """Why ``source`` cannot be one of a goal's sources, or None (SPEC §4.3).

    Campaigns of any status qualify, drafts included; broadcasts only when they are
    newsletters. A deleted source cannot be added, but one the goal already has stays.
    """
    kind, pk = source_ref(source)
    if source.workspace_id != workspace.pk:
        return f"no {kind} with id {pk} in this workspace"
    if isinstance(source, Broadcast):
        if source.kind == BroadcastKind.API_TRIGGERED:
            return "API-triggered broadcasts can't be goal sources"
        if source.kind != BroadcastKind.NEWSLETTER:
            return "only newsletter broadcasts can be goal sources"
    if source.deleted_at is not None and not already_selected:
        return f"{kind} {pk} is deleted; deleted {kind}s can't be added as sources"
    return None


def sources_clean(
    data: Any, *, workspace: Workspace, current: Collection[SourceRef] = ()
) -> list[Campaign | Broadcast]:
    """Resolve ``[{"type": "campaign" | "broadcast", "id"}]`` to rows of ``workspace``.

    ``current`` are the goal's present sources: they stay acceptable once deleted.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise DomainError(
            {"sources": ['must be a list of {"type": "campaign" | "broadcast", "id"}']}
        )
    errors = _Errors()
    refs: list[tuple[int, SourceRef]] = []
    first_seen: dict[SourceRef, int] = {}
    for index, item in enumerate(data):
        path = f"sources.{index}"
        if not isinstance(item, dict):
            errors.add(path, 'must be an object like {"type": "campaign", "id": 7}')
            continue
        errors.unknown_keys(item, SOURCE_KEYS, path, "a source")
        kind = item.get("type")
        if kind is None:
            errors.add(f"{path}.type", REQUIRED)
        elif kind in TRANSACTIONAL_TYPES:
            # SPEC §4.3 names them as refused: say why, and ask for no id they don't have.
            errors.add(
                f"{path}.type",
                "transactional messages can't be goal sources: they come from no campaign or "
                "broadcast",
            )
            continue
        elif kind not in SOURCE_TYPES:
            errors.add(
                f"{path}.type", f'unknown source type "{kind}"; expected campaign or broadcast'
            )
        pk = _pk(item, "id", path, errors)
        if kind not in SOURCE_TYPES or pk is None:
            continue
        ref = (kind, pk)
        if ref in first_seen:
            errors.add(path, f"duplicate of sources.{first_seen[ref]}")
            continue
        first_seen[ref] = index
        refs.append((index, ref))

    found: dict[SourceRef, Campaign | Broadcast] = {}
    for kind, model in (("campaign", Campaign), ("broadcast", Broadcast)):
        ids = [pk for _, (k, pk) in refs if k == kind]
        if ids:
            for row in model.objects.in_workspace(workspace).filter(pk__in=ids):
                found[(kind, row.pk)] = row
    current_refs = set(current)
    cleaned: list[Campaign | Broadcast] = []
    for index, ref in refs:
        source = found.get(ref)
        problem = (
            f"no {ref[0]} with id {ref[1]} in this workspace"
            if source is None
            else source_error(source, workspace=workspace, already_selected=ref in current_refs)
        )
        if problem is not None:
            errors.add(f"sources.{index}.id", problem)
        elif source is not None:
            cleaned.append(source)
    errors.raise_if_any()
    return cleaned
