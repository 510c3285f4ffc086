"""Writes to goals: create, update, delete, and the goal's sources (SPEC §4, §6).

Entry points (the REST API, the admin, scripts) pass the JSON a client sent; these functions
validate it with ``goals.criteria`` (a ``DomainError`` names every bad field by its dotted
path) and write the goal, its tags and its sources in one transaction.

A change to what a goal measures (criteria, impact, sources or attribution settings) asks
``goals.engine`` for a recompute; the request is queued when the transaction commits, and
readers keep seeing the previous result until the new one is complete. Renaming, describing
or tagging a goal changes no number, so it recomputes nothing.

Every write to a goal first locks its row (``select_for_update``), so two concurrent edits of
one goal's sources cannot both insert the same source or interleave their replacements.
Updates save only the fields they own: the engine's columns (status, versions, lease) are
never overwritten with stale values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from campaigns.errors import DomainError, NotFound
from campaigns.models import Broadcast, BroadcastKind, Campaign, Workspace
from campaigns.sources import tag_rows, tags_clean
from goals import criteria as rules
from goals import engine, partitions
from goals.engine.spec import RESULT_FIELDS
from goals.models import Goal, GoalSource


class _Unset(Enum):
    UNSET = "unset"


#: "Leave this part unchanged" (``None`` is a value: ``impact=None`` removes the impact).
UNSET: Final = _Unset.UNSET

Source = Campaign | Broadcast


@dataclass(frozen=True)
class _Measures:
    """What a goal measures: any change here needs a recompute."""

    criteria: dict[str, Any]
    impact: tuple[str, Decimal | None, str]
    attribution: rules.Attribution
    sources: frozenset[rules.SourceRef]

    @classmethod
    def of(cls, goal: Goal) -> _Measures:
        return cls(
            criteria=goal.criteria,
            impact=(goal.impact_currency, goal.impact_static, goal.impact_event_key),
            attribution=_attribution_of(goal),
            sources=frozenset(_current_sources(goal)),
        )


def _attribution_of(goal: Goal) -> rules.Attribution:
    return rules.Attribution(
        window_days=goal.window_days, metrics=dict(goal.metrics), count_machine=goal.count_machine
    )


def _current_sources(goal: Goal) -> dict[rules.SourceRef, GoalSource]:
    if goal.pk is None:
        return {}
    return {row.ref: row for row in GoalSource.objects.filter(goal=goal)}


def _collect(errors: dict[str, list[str]], exc: DomainError) -> None:
    for name, reasons in exc.errors.items():
        errors.setdefault(name, []).extend(reasons)


def _clean_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DomainError({"name": ["This field may not be blank."]})
    return name.strip()


def _apply(goal: Goal, impact: rules.Impact | None, attribution: rules.Attribution) -> None:
    goal.impact_currency = impact.currency if impact else ""
    goal.impact_static = impact.static if impact else None
    goal.impact_event_key = impact.event_key if impact else ""
    goal.window_days = attribution.window_days
    goal.metrics = attribution.metrics
    goal.count_machine = attribution.count_machine


def _impact_of(goal: Goal) -> rules.Impact | None:
    if not goal.impact_currency:
        return None
    return rules.Impact(
        currency=goal.impact_currency,
        static=goal.impact_static,
        event_key=goal.impact_event_key,
    )


def _sources_replace(goal: Goal, sources: Sequence[Source]) -> bool:
    """Make ``sources`` the goal's sources; whether anything changed."""
    current = _current_sources(goal)
    wanted = {rules.source_ref(source): source for source in sources}
    gone = [row.pk for ref, row in current.items() if ref not in wanted]
    new = [source for ref, source in wanted.items() if ref not in current]
    return _sources_write(goal, gone=gone, new=new)


def _newsletters_locked(sources: Sequence[Source]) -> None:
    """Lock the broadcasts among ``sources`` and raise ``DomainError`` on ``sources`` unless each
    is still a newsletter, as stored now (SPEC §4.3).

    The sources were checked before, possibly outside this transaction; a broadcast's kind
    change (``campaigns.sources.broadcast_update``) locks its row too and refuses to change a
    goal source's kind. So the two serialize: whichever locks second sees the other's commit
    (a kind change here, a source there), and no goal ever credits an API-triggered broadcast.
    ``FOR NO KEY UPDATE``: ingestion's foreign-key checks on the row (messages naming the
    broadcast) are not held up.
    """
    ids = sorted(source.pk for source in sources if isinstance(source, Broadcast))
    if not ids:
        return
    kinds = Broadcast.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    changed = [
        pk for pk, kind in kinds.values_list("pk", "kind") if kind != BroadcastKind.NEWSLETTER
    ]
    if changed:
        raise DomainError(
            {"sources": [f"broadcast {pk} is no longer a newsletter" for pk in changed]}
        )


def _sources_write(goal: Goal, *, gone: Sequence[int], new: Sequence[Source]) -> bool:
    """Delete the GoalSource rows ``gone`` and add ``new`` sources; whether anything changed."""
    _newsletters_locked(new)
    if gone:
        GoalSource.objects.filter(pk__in=gone).delete()
    GoalSource.objects.bulk_create(
        [
            GoalSource(
                goal=goal,
                campaign=source if isinstance(source, Campaign) else None,
                broadcast=source if isinstance(source, Broadcast) else None,
            )
            for source in new
        ]
    )
    # A list view prefetches sources; drop that cache so the response shows the new ones.
    getattr(goal, "_prefetched_objects_cache", {}).pop("sources", None)
    return bool(gone or new)


def _lock(goal: Goal) -> None:
    """Serialize writes to one goal (a no-op on SQLite, which serializes all writes)."""
    if not list(Goal.objects.select_for_update().filter(pk=goal.pk).values_list("pk", flat=True)):
        raise NotFound({"goal": ["this goal no longer exists"]})


def _touch(goal: Goal) -> None:
    goal.updated_at = timezone.now()
    Goal.objects.filter(pk=goal.pk).update(updated_at=goal.updated_at)


# --- goals ----------------------------------------------------------------------------------


def goal_create(
    *,
    workspace: Workspace,
    name: str,
    criteria: Any,
    description: str = "",
    tags: Sequence[str] = (),
    impact: Any = None,
    attribution: Any = None,
    sources: Any = None,
) -> Goal:
    """Create a goal and queue its first computation.

    ``criteria``, ``impact``, ``attribution`` and ``sources`` are the API's JSON shapes
    (SPEC §7); ``attribution`` left out (None) takes the defaults.
    """
    errors: dict[str, list[str]] = {}
    clean_name = ""
    try:
        clean_name = _clean_name(name)
    except DomainError as exc:
        _collect(errors, exc)
    clean_criteria: dict[str, Any] = {}
    try:
        clean_criteria = rules.criteria_clean(criteria, workspace=workspace)
    except DomainError as exc:
        _collect(errors, exc)
    clean_impact = clean_attribution = None
    clean_sources: list[Source] = []
    tag_names: list[str] = []
    try:
        clean_impact = rules.impact_clean(impact, trigger_type=rules.trigger_type_of(criteria))
    except DomainError as exc:
        _collect(errors, exc)
    try:
        clean_attribution = rules.attribution_clean(attribution)
    except DomainError as exc:
        _collect(errors, exc)
    try:
        clean_sources = rules.sources_clean(sources, workspace=workspace)
    except DomainError as exc:
        _collect(errors, exc)
    try:
        tag_names = tags_clean(tags)
    except DomainError as exc:
        _collect(errors, exc)
    if errors:
        raise DomainError(errors)
    assert clean_attribution is not None

    now = timezone.now()
    goal = Goal(
        workspace=workspace,
        name=clean_name,
        description=description,
        criteria=clean_criteria,
        created_at=now,
        updated_at=now,
    )
    _apply(goal, clean_impact, clean_attribution)
    # Lengths (name, description) and the money columns' digits, as the database will.
    goal.full_clean(exclude=["workspace"])
    with transaction.atomic():
        goal.save()
        goal.tags.set(tag_rows(tag_names))
        _sources_replace(goal, clean_sources)
        engine.recompute_request(goal=goal)
    return goal


def goal_update(
    *,
    goal: Goal,
    name: str | None = None,
    description: str | None = None,
    tags: Sequence[str] | None = None,
    criteria: Any = UNSET,
    impact: Any = UNSET,
    attribution: Any = UNSET,
    attribution_patch: Any = UNSET,
    sources: Any = UNSET,
) -> Goal:
    """Change the given parts of a goal (``None`` / ``UNSET``: leave unchanged).

    ``impact=None`` removes the impact. ``attribution`` replaces the settings whole;
    ``attribution_patch`` (a PATCH's) is merged into them as stored once the goal is locked
    (``attribution_patched``), so a change committed since the caller read the goal stays.
    Recomputes only when what the goal measures changed: sending the same criteria back is
    not a change.
    """
    with transaction.atomic():
        _lock(goal)
        goal.refresh_from_db()
        if attribution_patch is not UNSET:
            attribution = attribution_patched(goal, attribution_patch)
        before = _Measures.of(goal)
        errors: dict[str, list[str]] = {}

        new_name = goal.name
        if name is not None:
            try:
                new_name = _clean_name(name)
            except DomainError as exc:
                _collect(errors, exc)
        tag_names = None
        if tags is not None:
            try:
                tag_names = tags_clean(tags)
            except DomainError as exc:
                _collect(errors, exc)

        new_criteria = goal.criteria
        trigger_type = rules.trigger_type_of(goal.criteria)
        if criteria is not UNSET:
            trigger_type = rules.trigger_type_of(criteria)
            try:
                new_criteria = rules.criteria_clean(
                    criteria, workspace=goal.workspace, previous=goal.criteria
                )
            except DomainError as exc:
                _collect(errors, exc)

        new_impact = _impact_of(goal)
        if impact is not UNSET:
            try:
                new_impact = rules.impact_clean(impact, trigger_type=trigger_type)
            except DomainError as exc:
                _collect(errors, exc)
        elif (
            new_impact is not None and new_impact.event_key and trigger_type not in {"event", None}
        ):
            # The kept impact reads an event key, which the new trigger no longer has.
            errors.setdefault("impact.event_key", []).append(
                "event_key is only available for event triggers"
            )

        new_attribution = before.attribution
        if attribution is not UNSET:
            try:
                new_attribution = rules.attribution_clean(attribution)
            except DomainError as exc:
                _collect(errors, exc)

        new_sources: list[Source] | None = None
        if sources is not UNSET:
            try:
                new_sources = rules.sources_clean(
                    sources, workspace=goal.workspace, current=before.sources
                )
            except DomainError as exc:
                _collect(errors, exc)

        if errors:
            raise DomainError(errors)

        goal.name = new_name
        if description is not None:
            goal.description = description
        goal.criteria = new_criteria
        _apply(goal, new_impact, new_attribution)
        goal.updated_at = timezone.now()
        goal.full_clean(exclude=["workspace"])
        # Every field a result depends on (``RESULT_FIELDS``, which the switch records).
        goal.save(update_fields=["name", "description", *RESULT_FIELDS, "updated_at"])
        if tag_names is not None:
            goal.tags.set(tag_rows(tag_names))
            getattr(goal, "_prefetched_objects_cache", {}).pop("tags", None)
        if new_sources is not None:
            _sources_replace(goal, new_sources)
        if _Measures.of(goal) != before:
            engine.recompute_request(goal=goal)
    return goal


def attribution_patched(goal: Goal, patch: Any) -> Any:
    """The goal's attribution settings with ``patch`` merged in (a JSON merge patch, RFC 7396):
    keys, and channels of ``metrics``, left out keep their current values; ``null`` resets
    one to its default. The nulls are kept for ``criteria.attribution_clean``, which reads a
    null as the default and refuses unknown keys and channels, null or not (a typo must not
    be a silent no-op). A patch that is not an object is returned as it is, for it to refuse."""
    if not isinstance(patch, dict):
        return patch
    current = asdict(_attribution_of(goal))
    for key, value in patch.items():
        if key == "metrics" and isinstance(value, dict):
            current["metrics"] = {**current["metrics"], **value}
        else:
            current[key] = value
    return current


def goal_delete(*, goal: Goal) -> None:
    """Delete a goal with its sources and results (achievements are the goal's own history,
    not the campaigns': those stay).

    A recompute still queued for it finds no goal and does nothing.
    """
    with transaction.atomic():
        # The goal row first, as an incremental update takes it before it reads the result
        # tables: dropping the tables first and then waiting for the row made the two wait for
        # each other (a deadlock, a 500 on either side) on PostgreSQL.
        _lock(goal)
        if connection.vendor == "postgresql":
            # Its result tables go whole instead of row by row (``goals.partitions``).
            partitions.drop_goal_results(goal.pk)
        goal.delete()


# --- sources --------------------------------------------------------------------------------


def sources_set(*, goal: Goal, sources: Sequence[Source]) -> Goal:
    """Make ``sources`` the goal's sources (repeats dropped); recompute if that changed them.

    Raises ``DomainError`` on ``sources.N.id`` for a source that cannot be one (§4.3).
    """
    with transaction.atomic():
        _lock(goal)
        current = _current_sources(goal)
        errors: dict[str, list[str]] = {}
        for index, source in enumerate(sources):
            ref = rules.source_ref(source)
            problem = rules.source_error(
                source, workspace=goal.workspace, already_selected=ref in current
            )
            if problem is not None:
                errors.setdefault(f"sources.{index}.id", []).append(problem)
        if errors:
            raise DomainError(errors)
        if _sources_replace(goal, sources):
            _touch(goal)
            engine.recompute_request(goal=goal)
    return goal


def source_add(*, goal: Goal, source: Source) -> GoalSource:
    """Add one source (idempotent: adding a present source changes nothing)."""
    with transaction.atomic():
        _lock(goal)
        ref = rules.source_ref(source)
        present = _current_sources(goal)
        if ref in present:
            return present[ref]
        problem = rules.source_error(source, workspace=goal.workspace)
        if problem is not None:
            raise DomainError({"source": [problem]})
        try:
            _newsletters_locked([source])
        except DomainError as exc:
            raise DomainError({"source": exc.errors["sources"]}) from None
        row = GoalSource.objects.create(
            goal=goal,
            campaign=source if isinstance(source, Campaign) else None,
            broadcast=source if isinstance(source, Broadcast) else None,
        )
        getattr(goal, "_prefetched_objects_cache", {}).pop("sources", None)
        _touch(goal)
        engine.recompute_request(goal=goal)
    return row


def source_remove(*, goal: Goal, source: Source) -> None:
    """Remove one source (idempotent: removing an absent source changes nothing)."""
    with transaction.atomic():
        _lock(goal)
        row = _current_sources(goal).get(rules.source_ref(source))
        if row is None:
            return
        row.delete()
        getattr(goal, "_prefetched_objects_cache", {}).pop("sources", None)
        _touch(goal)
        engine.recompute_request(goal=goal)


# --- sources: several at once (the UI's picker and "Edit sources") -------------------------


def sources_change(
    *,
    goal: Goal,
    add: Sequence[rules.SourceRef] = (),
    remove: Sequence[rules.SourceRef] = (),
) -> Goal:
    """Add and remove several sources as one change: one recompute, however many.

    ``add`` and ``remove`` are ``("campaign" | "broadcast", id)`` references. Adding a present
    source or removing an absent one changes nothing; a reference in both is left as it was.
    Every source to add is checked (§4.3) under the goal's lock, so a concurrent edit is never
    lost; ``DomainError`` names ``add.N.id`` (N indexes ``add``) and stores nothing.
    """
    with transaction.atomic():
        _lock(goal)
        current = _current_sources(goal)
        try:
            adding = rules.sources_clean(
                [{"type": kind, "id": pk} for kind, pk in add],
                workspace=goal.workspace,
                current=current,
            )
        except DomainError as exc:
            raise DomainError(
                {
                    f"add{name.removeprefix('sources')}": reasons
                    for name, reasons in exc.errors.items()
                }
            ) from None
        dropping = set(remove) - {rules.source_ref(source) for source in adding}
        gone = [row.pk for ref, row in current.items() if ref in dropping]
        new = [source for source in adding if rules.source_ref(source) not in current]
        if not _sources_write(goal, gone=gone, new=new):
            return goal
        _touch(goal)
        engine.recompute_request(goal=goal)
    return goal
