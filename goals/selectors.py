"""Reads for the goal endpoints: the source picker and the achievement list (SPEC §4.3, §7).

Reports live in ``goals.reports``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, F, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast, Lower
from taggit.models import TaggedItem

from campaigns.models import Broadcast, BroadcastKind, BroadcastStatus, Campaign, CampaignStatus
from goals.criteria import SourceRef
from goals.models import Achievement, Goal, GoalSource

#: The columns both halves of the picker's UNION select, in one order.
CANDIDATE_COLUMNS = ("type", "id", "name", "status", "channels_json", "sort_name")


def _tagged(model: type[Campaign | Broadcast], tag: str) -> Q:
    """Rows carrying ``tag`` (case-insensitive), as a subquery so a row matches once."""
    return Q(pk__in=model.objects.filter(tags__name__iexact=tag).values("pk"))


def source_candidates(
    *,
    goal: Goal,
    search: str = "",
    type: str | None = None,
    statuses: Collection[str] = (),
    channel: str | None = None,
    tag: str | None = None,
) -> QuerySet[Any]:
    """The sources ``goal`` may pick: one list of campaigns and newsletter broadcasts.

    Campaigns of any status (drafts included, to prepare a launch) and newsletter broadcasts
    of the goal's workspace, never deleted ones, never API-triggered or in-app broadcasts.
    One UNION query of ``.values()`` rows with the same columns, ordered by name
    (case-insensitively), then type, then id, so the database sorts and slices the pages.
    Filters: ``search`` (name contains), ``type``, ``statuses`` (any of), ``channel``
    (broadcasts using it; campaigns have no channel list, so a channel leaves them out),
    ``tag`` (case-insensitive). Rows: type, id, name, status, channels_json, sort_name;
    ``source_candidates_decorate`` turns a page of them into API rows.
    """
    halves: list[QuerySet[Any]] = []
    wanted = set(statuses)

    if type in (None, "campaign") and channel is None:
        campaign_statuses = wanted & set(CampaignStatus.values) if wanted else None
        if campaign_statuses is None or campaign_statuses:
            campaigns = Campaign.objects.alive().in_workspace(goal.workspace_id)
            if campaign_statuses:
                campaigns = campaigns.filter(status__in=campaign_statuses)
            if search:
                campaigns = campaigns.filter(name__icontains=search)
            if tag:
                campaigns = campaigns.filter(_tagged(Campaign, tag))
            halves.append(
                campaigns.annotate(
                    type=Value("campaign", output_field=CharField()),
                    channels_json=Value("[]", output_field=TextField()),
                    sort_name=Lower("name"),
                )
                .order_by()  # the models' default ordering is not allowed inside a UNION
                .values(*CANDIDATE_COLUMNS)
            )

    if type in (None, "broadcast"):
        broadcast_statuses = wanted & set(BroadcastStatus.values) if wanted else None
        if broadcast_statuses is None or broadcast_statuses:
            broadcasts = (
                Broadcast.objects.alive()
                .in_workspace(goal.workspace_id)
                .filter(kind=BroadcastKind.NEWSLETTER)
            )
            if broadcast_statuses:
                broadcasts = broadcasts.filter(status__in=broadcast_statuses)
            if search:
                broadcasts = broadcasts.filter(name__icontains=search)
            if channel:
                # A quoted substring of the JSON list: works on SQLite and PostgreSQL alike
                # (see campaigns.filters.ChannelFilter).
                broadcasts = broadcasts.filter(channels__icontains=f'"{channel}"')
            if tag:
                broadcasts = broadcasts.filter(_tagged(Broadcast, tag))
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
    credited (True) or the unattributed (False) ones. The person, message and source come in
    the same query.
    """
    rows = Achievement.objects.filter(goal=goal, version=goal.current_version).select_related(
        "person", "message", "source_campaign", "source_broadcast"
    )
    if start is not None:
        rows = rows.filter(local_date__gte=start)
    if end is not None:
        rows = rows.filter(local_date__lte=end)
    if source is not None:
        kind, pk = source
        rows = rows.filter(**{f"source_{kind}_id": pk})
    if attributed is not None:
        rows = rows.filter(message__isnull=not attributed)
    return rows.order_by("achieved_at", "id")
