"""Reads for the goal endpoints: the source picker and the achievement list (SPEC §4.3, §7).

Reports live in ``goals.reports``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Lower
from taggit.models import TaggedItem

from campaigns.errors import NotFound
from campaigns.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Event,
    Message,
)
from goals.attribution import day_start
from goals.criteria import SourceRef
from goals.currencies import money_places
from goals.models import Achievement, Goal, GoalRollup, GoalSource, RollupScope, TriggerKind
from goals.reports import GoalSummary, Impact, micro_sum

#: The columns both halves of the picker's UNION select, in one order.
CANDIDATE_COLUMNS = ("type", "id", "name", "status", "channels_json", "sort_name")


def _tagged(model: type[Campaign | Broadcast], tags: Collection[str]) -> Q:
    """Rows carrying any of ``tags`` (case-insensitive), as a subquery so a row matches once."""
    wanted = Q()
    for tag in tags:
        wanted |= Q(tags__name__iexact=tag)
    return Q(pk__in=model.objects.filter(wanted).values("pk"))


def source_candidates(
    *,
    goal: Goal,
    search: str = "",
    name: str = "",
    types: Collection[str] = (),
    statuses: Collection[str] = (),
    channels: Collection[str] = (),
    tags: Collection[str] = (),
) -> QuerySet[Any]:
    """The sources ``goal`` may pick: one list of campaigns and newsletter broadcasts.

    Campaigns of any status (drafts included, to prepare a launch) and newsletter broadcasts
    of the goal's workspace, never deleted ones, never API-triggered or in-app broadcasts.
    One UNION query of ``.values()`` rows with the same columns, ordered by name
    (case-insensitively), then type, then id, so the database sorts and slices the pages.
    Filters, each "any of" when given: ``search`` and ``name`` (name contains; both must
    match when both are given), ``types``, ``statuses``,
    ``channels`` (broadcasts using one; campaigns have no channel list, so a channel leaves
    them out), ``tags`` (case-insensitive). Rows: type, id, name, status, channels_json, sort_name;
    ``source_candidates_decorate`` turns a page of them into API rows.
    """
    halves: list[QuerySet[Any]] = []
    wanted = set(statuses)

    if (not types or "campaign" in types) and not channels:
        campaign_statuses = wanted & set(CampaignStatus.values) if wanted else None
        if campaign_statuses is None or campaign_statuses:
            campaigns = Campaign.objects.alive().in_workspace(goal.workspace_id)
            if campaign_statuses:
                campaigns = campaigns.filter(status__in=campaign_statuses)
            for part in (search, name):
                if part:
                    campaigns = campaigns.filter(name__icontains=part)
            if tags:
                campaigns = campaigns.filter(_tagged(Campaign, tags))
            halves.append(
                campaigns.annotate(
                    type=Value("campaign", output_field=CharField()),
                    channels_json=Value("[]", output_field=TextField()),
                    sort_name=Lower("name"),
                )
                .order_by()  # the models' default ordering is not allowed inside a UNION
                .values(*CANDIDATE_COLUMNS)
            )

    if not types or "broadcast" in types:
        broadcast_statuses = wanted & set(BroadcastStatus.values) if wanted else None
        if broadcast_statuses is None or broadcast_statuses:
            broadcasts = (
                Broadcast.objects.alive()
                .in_workspace(goal.workspace_id)
                .filter(kind=BroadcastKind.NEWSLETTER)
            )
            if broadcast_statuses:
                broadcasts = broadcasts.filter(status__in=broadcast_statuses)
            for part in (search, name):
                if part:
                    broadcasts = broadcasts.filter(name__icontains=part)
            if channels:
                # A quoted substring of the JSON list: works on SQLite and PostgreSQL alike
                # (see campaigns.filters.ChannelFilter).
                using = Q()
                for channel in channels:
                    using |= Q(channels__icontains=f'"{channel}"')
                broadcasts = broadcasts.filter(using)
            if tags:
                broadcasts = broadcasts.filter(_tagged(Broadcast, tags))
            halves.append(
                broadcasts.annotate(
                    type=Value("broadcast", output_field=CharField()),
                    # Text on both sides: PostgreSQL cannot UNION jsonb with text.
                    channels_json=Cast(F("channels"), output_field=TextField()),
                    sort_name=Lower("name"),
                )
                .order_by()  # the models' default ordering is not allowed inside a UNION
                .values(*CANDIDATE_COLUMNS)
            )

    if not halves:
        return Campaign.objects.none().values("id")
    rows = halves[0] if len(halves) == 1 else halves[0].union(halves[1], all=True)
    # Not the raw name as a tie-break: its case order differs between databases' collations.
    return rows.order_by("sort_name", "type", "id")


def _tags_by_ref(refs: Iterable[SourceRef]) -> dict[SourceRef, list[str]]:
    """Tag names of the given campaigns and broadcasts, in one query."""
    ids: dict[str, list[int]] = defaultdict(list)
    for kind, pk in refs:
        ids[kind].append(pk)
    if not ids:
        return {}
    types = ContentType.objects.get_for_models(Campaign, Broadcast)  # cached after first use
    kinds = {types[Campaign].pk: "campaign", types[Broadcast].pk: "broadcast"}
    wanted = Q()
    for model, kind in ((Campaign, "campaign"), (Broadcast, "broadcast")):
        if ids[kind]:
            wanted |= Q(content_type_id=types[model].pk, object_id__in=ids[kind])
    tags: dict[SourceRef, list[str]] = defaultdict(list)
    for content_type_id, object_id, name in TaggedItem.objects.filter(wanted).values_list(
        "content_type_id", "object_id", "tag__name"
    ):
        tags[(kinds[content_type_id], object_id)].append(name)
    return {ref: sorted(names, key=str.casefold) for ref, names in tags.items()}


def source_candidates_decorate(
    *, goal: Goal, rows: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """API rows for one page of ``source_candidates``: with tags, channels and ``selected``
    (already a source of ``goal``). Two queries, whatever the page size."""
    page = list(rows)
    refs = [(row["type"], row["id"]) for row in page]
    tags = _tags_by_ref(refs)
    selected_query = Q(pk__in=[])
    for kind in ("campaign", "broadcast"):
        ids = [pk for k, pk in refs if k == kind]
        if ids:
            selected_query |= Q(**{f"{kind}_id__in": ids})
    selected = (
        {row.ref for row in GoalSource.objects.filter(goal=goal).filter(selected_query)}
        if refs
        else set()
    )
    return [
        {
            "type": row["type"],
            "id": row["id"],
            "name": row["name"],
            "status": row["status"],
            "channels": json.loads(row["channels_json"] or "[]"),
            "tags": tags.get((row["type"], row["id"]), []),
            "selected": (row["type"], row["id"]) in selected,
        }
        for row in page
    ]


def achievement_list(
    *,
    goal: Goal,
    start: date | None = None,
    end: date | None = None,
    source: SourceRef | None = None,
    attributed: bool | None = None,
) -> QuerySet[Achievement]:
    """The achievements of ``goal``'s current result, by time (then id).

    ``start`` / ``end`` are inclusive local dates (the workspace's calendar); ``source`` is a
    ("campaign" | "broadcast", id) the achievement was credited to; ``attributed`` keeps the
    credited (True) or the unattributed (False) ones, with their person, message and source:
    page it by ids first (``campaigns.pagination.IdsFirstPaginator``), since joining those to
    every row of a large goal before sorting took seconds.

    A ``source`` that is not one of the goal's workspace's campaigns or broadcasts (deleted
    ones included: they keep their history) is ``NotFound`` naming ``source``, as the object
    itself would be (SPEC §7), whether it is another workspace's or none at all.
    """
    if source is not None:
        kind, pk = source
        model = Campaign if kind == "campaign" else Broadcast
        if not model.objects.in_workspace(goal.workspace).filter(pk=pk).exists():
            raise NotFound({"source": [f"no {kind} with id {pk} in this workspace"]})
    rows = Achievement.objects.filter(goal=goal, version=goal.current_version).select_related(
        "person", "message", "source_campaign", "source_broadcast"
    )
    if start is not None:
        rows = rows.filter(local_date__gte=start)
        if start > date.min + DAY_SLACK:
            after = day_start(start, goal.workspace.tz) - DAY_SLACK
            rows = rows.filter(achieved_at__gte=after)
    if end is not None:
        rows = rows.filter(local_date__lte=end)
        if end < date.max - DAY_SLACK:
            before = day_start(end + timedelta(days=1), goal.workspace.tz) + DAY_SLACK
            rows = rows.filter(achieved_at__lt=before)
    if source is not None:
        kind, pk = source
        rows = rows.filter(**{f"source_{kind}_id": pk})
    if attributed is not None:
        rows = rows.filter(message__isnull=not attributed)
    return rows.order_by("achieved_at", "id")


#: The local dates of a result were computed in the workspace's zone when it was built, and a
#: zone change recomputes it: until then they may be another zone's, at most 26 hours apart.
#: ``achievement_list`` bounds the time by the range widened by this much (the time index
#: finds those rows; the dates then decide).
DAY_SLACK = timedelta(days=2)


def achievement_trigger_client_ids(
    *, goal: Goal, achievements: Iterable[Achievement]
) -> dict[tuple[str, int], str | None]:
    """The client's own ids of the events and messages that triggered ``achievements``, by
    (trigger kind, trigger id): an event's ``id`` (``None`` where the client sent none), a
    message's delivery id. The API names events and messages by these ids alone, so the row
    ids in ``trigger`` mean nothing to a client. Attribute and segment changes have no client
    id and are left out. One query per kind present, rows of ``goal``'s workspace only."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in achievements:
        wanted[row.trigger_kind].add(row.trigger_id)
    found: dict[tuple[str, int], str | None] = {}
    kinds: list[tuple[str, Any]] = [(TriggerKind.EVENT, Event), (TriggerKind.MESSAGE, Message)]
    for kind, model in kinds:
        if wanted[kind]:
            rows = model.objects.filter(workspace_id=goal.workspace_id, pk__in=wanted[kind])
            for pk, client_id in rows.values_list("pk", "client_id"):
                found[(kind, pk)] = client_id
    return found


# --- the goal page: what a goal's criteria refer to ---------------------------------------------


def criteria_reference_names(*, goal: Goal) -> dict[str, dict[int, tuple[str, bool]]]:
    """Names of the segments, campaigns and broadcasts ``goal``'s criteria point at, by kind
    ("segment", "campaign", "broadcast") and id, each with whether it is deleted (a deleted
    reference stays valid for the goal that had it, so the page still names it).

    One query per kind the criteria actually refer to (none for a plain event goal); rows of
    another workspace are never read, so a stale id simply has no name.
    """
    from campaigns.models import Segment  # imported here: this section stands on its own

    wanted: dict[str, set[int]] = {"segment": set(), "campaign": set(), "broadcast": set()}
    criteria = goal.criteria if isinstance(goal.criteria, Mapping) else {}
    for part in [criteria.get("trigger"), *(criteria.get("filters") or [])]:
        if not isinstance(part, Mapping):
            continue
        for kind, ids in wanted.items():
            value = part.get(kind)
            if isinstance(value, int) and not isinstance(value, bool):
                ids.add(value)
    models: dict[str, Any] = {"segment": Segment, "campaign": Campaign, "broadcast": Broadcast}
    names: dict[str, dict[int, tuple[str, bool]]] = {kind: {} for kind in wanted}
    for kind, ids in wanted.items():
        if not ids:
            continue
        rows = (
            models[kind]
            .objects.in_workspace(goal.workspace_id)
            .filter(pk__in=ids)
            .values_list("pk", "name", "deleted_at")
        )
        names[kind] = {pk: (name, deleted_at is not None) for pk, name, deleted_at in rows}
    return names


# --- the goals dashboard ------------------------------------------------------------------------


def goals_with_period_totals(goals: QuerySet[Goal], *, start: date, end: date) -> QuerySet[Goal]:
    """``goals`` annotated with their numbers for the local dates ``[start, end]``, for a list
    of goals (the dashboard), computed in the same query as the goals themselves:

    * ``period_people``: unique people with at least one achievement in the range, equal to
      ``goal_report(...).total_people``;
    * ``period_revenue_micro``: the revenue of every achievement in the range in integer
      millionths (``period_revenue`` turns it into ``goal_report(...).revenue``);
    * ``source_count``: the goal's sources, deleted campaigns and broadcasts included.

    Each is a correlated subquery per goal, so the database can sort and page by them and a page
    costs one query whatever its size. Like ``goal_report`` they read ``current_version``: its
    ``GoalRollup`` rows when the rollup is complete for it (``rollup_version``), its
    achievements otherwise (see ``goals.reports``: a person counts once in a range, on the
    one rollup row whose previous day in the scope is before the range's start). A goal and its
    numbers are read by one statement, so they never come from two versions.
    """
    rollup = GoalRollup.objects.filter(
        goal_id=OuterRef("pk"),
        version=OuterRef("current_version"),
        scope_type=RollupScope.TOTAL,
        local_date__gte=start,
        local_date__lte=end,
    ).order_by()
    achievements = Achievement.objects.filter(
        goal_id=OuterRef("pk"),
        version=OuterRef("current_version"),
        local_date__gte=start,
        local_date__lte=end,
    ).order_by()
    from_rollup = Q(rollup_version=F("current_version"))

    def scalar(rows: QuerySet[Any], aggregate: Any) -> Coalesce:
        # GROUP BY the goal (one group: the outer goal) so the subquery yields one value.
        value = rows.values("goal_id").annotate(value=aggregate).values("value")
        return Coalesce(Subquery(value, output_field=BigIntegerField()), 0)

    return goals.annotate(
        period_people=Case(
            When(from_rollup, then=scalar(rollup.filter(prev_date__lt=start), Sum("people"))),
            default=scalar(achievements, Count("person_key", distinct=True)),
            output_field=BigIntegerField(),
        ),
        period_revenue_micro=Case(
            When(from_rollup, then=scalar(rollup, Sum("revenue_micro"))),
            default=scalar(achievements, micro_sum()),
            output_field=BigIntegerField(),
        ),
        source_count=Coalesce(
            Subquery(
                GoalSource.objects.filter(goal_id=OuterRef("pk"))
                .order_by()
                .values("goal_id")
                .annotate(n=Count("id"))
                .values("n"),
                output_field=BigIntegerField(),
            ),
            0,
        ),
    )


def period_revenue(goal: Goal, *, places: int = 0) -> Decimal | None:
    """The revenue ``goals_with_period_totals`` annotated, as ``goal_report`` states it (the
    currency's decimals, more only where an amount needs them, at least ``places``), or None
    without an impact."""
    if not goal.report_currency:
        return None
    amount = Decimal(goal.period_revenue_micro).scaleb(-6)  # type: ignore[attr-defined]
    places = max(money_places(goal.report_currency), _places_needed(amount), places)
    return amount.quantize(Decimal(1).scaleb(-places))


def _places_needed(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def report_money_places(goals: Iterable[Goal], *, start: date, end: date) -> dict[int, int]:
    """Per goal (of ``goals``, as ``goals_with_period_totals`` read them): the decimal places
    of the money of its daily ``goal_report`` for ``[start, end]``, where that is more than its
    currency's. The report writes every amount with one scale, wide enough for its widest
    amount, and its daily amounts (a day's total, a source's or the unattributed day) may need
    more places than their sum: ``0.125 + 0.125`` is reported as ``"0.250"``.

    Only amounts finer than the currency's minor unit are read (usually none), in at most
    three queries whatever the number of goals: the days of the goals read from their rollup,
    then the days and the series' days of the others. Each goal's rows are those of the
    version its numbers were read from (``current_version`` as loaded).
    """
    goals = [goal for goal in goals if goal.report_currency]
    if not goals:
        return {}
    # Per goal, the millionths a whole minor unit holds: an amount not a multiple needs more.
    unit = Case(
        *(
            When(goal_id=goal.pk, then=Value(10 ** max(0, 6 - money_places(goal.report_currency))))
            for goal in goals
        ),
        output_field=BigIntegerField(),
    )

    def of(subset: list[Goal]) -> Q:
        wanted = Q(pk__in=[])
        for goal in subset:
            wanted |= Q(goal_id=goal.pk, version=goal.current_version)
        return wanted & Q(local_date__gte=start, local_date__lte=end)

    def finer(rows: QuerySet[Any], *group: Any, micro: Any, **named: Any) -> list[tuple[int, int]]:
        fine = (
            rows.values(*group, **named)
            .annotate(micro=micro)
            .annotate(rest=F("micro") % unit)
            .exclude(rest=0)
            .order_by()
        )
        return list(fine.values_list("goal_id", "micro"))

    rolled = [goal for goal in goals if goal.rollup_version == goal.current_version]
    others = [goal for goal in goals if goal.rollup_version != goal.current_version]
    found: list[tuple[int, int]] = []
    if rolled:
        # The report's series: the total, every credited source (the goal's, and one whose
        # removal's recompute is not done: ``reports._removed_sources``) and the unattributed.
        scopes = GoalRollup.objects.filter(of(rolled))
        found += finer(
            scopes,
            "goal_id",
            "scope_type",
            "scope_id",
            "local_date",
            micro=Sum("revenue_micro"),
        )
    if others:
        rows = Achievement.objects.filter(of(others))
        found += finer(rows, "goal_id", "local_date", micro=micro_sum())
        found += finer(
            rows,
            "goal_id",
            "local_date",
            "source_campaign_id",
            "source_broadcast_id",
            micro=micro_sum(),
            attributed=ExpressionWrapper(Q(message_id__isnull=False), output_field=BooleanField()),
        )
    places: dict[int, int] = {}
    for goal_id, micro in found:
        needed = _places_needed(Decimal(micro).scaleb(-6))
        places[goal_id] = max(places.get(goal_id, 0), needed)
    return places


def goal_summaries(goals: Iterable[Goal], *, start: date, end: date) -> list[GoalSummary]:
    """Goals annotated by ``goals_with_period_totals`` for ``[start, end]`` (tags prefetched)
    as their summaries: the numbers each one's daily ``goal_report`` has for the range, money
    written as that report writes it (``report_money_places``)."""
    goals = list(goals)
    places = report_money_places(goals, start=start, end=end)
    return [
        goal_summary(goal, start=start, end=end, places=places.get(goal.pk, 0)) for goal in goals
    ]


def goal_summary(goal: Goal, *, start: date, end: date, places: int = 0) -> GoalSummary:
    """A goal annotated by ``goals_with_period_totals`` for ``[start, end]`` (tags prefetched)
    as its summary; ``places``: at least that many decimals (``report_money_places``)."""
    revenue = period_revenue(goal, places=places)
    return GoalSummary(
        goal_id=goal.pk,
        name=goal.name,
        tags=sorted((tag.name for tag in goal.tags.all()), key=str.casefold),
        status=goal.status,
        start=start,
        end=end,
        total_people=goal.period_people,  # type: ignore[attr-defined]
        impact=None if revenue is None else Impact(revenue, goal.report_currency),
    )


# --- the UI's source pages: the picker's tag filter and selection, "Edit sources" -----------


def source_candidate_tags(*, workspace_id: int) -> list[str]:
    """The tags of the workspace's pickable sources (what the picker's tag filter offers),
    sorted case-insensitively, one spelling per tag. One query."""
    types = ContentType.objects.get_for_models(Campaign, Broadcast)  # cached after first use
    campaigns = Campaign.objects.alive().in_workspace(workspace_id).values("pk")
    broadcasts = (
        Broadcast.objects.alive()
        .in_workspace(workspace_id)
        .filter(kind=BroadcastKind.NEWSLETTER)
        .values("pk")
    )
    names = (
        TaggedItem.objects.filter(
            Q(content_type_id=types[Campaign].pk, object_id__in=campaigns)
            | Q(content_type_id=types[Broadcast].pk, object_id__in=broadcasts)
        )
        .values_list("tag__name", flat=True)
        .distinct()
    )
    by_key: dict[str, str] = {}
    for name in sorted(names):
        by_key.setdefault(name.casefold(), name)
    return sorted(by_key.values(), key=str.casefold)


def sources_by_ref(
    *, workspace_id: int, refs: Iterable[SourceRef]
) -> dict[SourceRef, Campaign | Broadcast]:
    """The workspace's campaigns and broadcasts named by ``refs`` (deleted ones included;
    references to anything else are simply absent). At most two queries."""
    ids: dict[str, list[int]] = defaultdict(list)
    for kind, pk in refs:
        ids[kind].append(pk)
    found: dict[SourceRef, Campaign | Broadcast] = {}
    for kind, model in (("campaign", Campaign), ("broadcast", Broadcast)):
        if ids[kind]:
            for row in model.objects.in_workspace(workspace_id).filter(pk__in=ids[kind]):
                found[(kind, row.pk)] = row
    return found


def goal_source_list(*, goal: Goal) -> QuerySet[GoalSource]:
    """The goal's sources with their campaign or broadcast (deleted ones included), by name
    (case-insensitively), then id. One query per page."""
    return (
        GoalSource.objects.filter(goal=goal)
        .select_related("campaign", "broadcast")
        .annotate(sort_name=Lower(Coalesce("campaign__name", "broadcast__name")))
        .order_by("sort_name", "id")
    )
