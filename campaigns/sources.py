"""Writes to the messaging objects goals attribute to: campaigns, broadcasts and segments.

Entry points (the REST API, the admin, commands) validate input and call one of these. Each
write runs in one transaction: the row, its tags and ``updated_at`` change together or not at
all. Deleting is ``campaigns.services.source_soft_delete`` (history is kept, SPEC §3).

Updates take ``None`` as "leave unchanged" (none of these fields can be null) and save only the
fields they own, so a concurrent soft delete is never undone by a stale ``deleted_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify
from taggit.models import Tag

from campaigns import values
from campaigns.errors import Conflict, DomainError
from campaigns.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Segment,
    Workspace,
)

#: taggit's ``Tag.name`` column length.
TAG_MAX_LENGTH = 100


def tags_clean(tags: Iterable[Any]) -> list[str]:
    """Strip tag names and drop repeats (case-insensitively, the first spelling wins).

    Raises ``DomainError`` on ``tags`` for anything that is not a non-empty string of at most
    100 characters without a comma, so callers other than the API get the same rule. A comma
    separates tags in ``?tag=`` filters and in the UI's tag fields, so a tag holding one could
    never be filtered by.

    The names are stored as given: taggit's tag rows are case-sensitive
    (``TAGGIT_CASE_INSENSITIVE = False``), since its table is shared by every workspace and a
    case-insensitive lookup would return another workspace's spelling.
    """
    cleaned: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise DomainError({"tags": ["every tag must be a string"]})
        name = tag.strip()
        if not name:
            raise DomainError({"tags": ["tags may not be blank"]})
        if len(name) > TAG_MAX_LENGTH:
            raise DomainError({"tags": [f"tags are at most {TAG_MAX_LENGTH} characters long"]})
        if "\x00" in name:
            # PostgreSQL cannot store it (a 500 there): refused as ingestion refuses it.
            raise DomainError({"tags": [f"tags {values.NUL_ERROR}"]})
        if "," in name:
            raise DomainError(
                {"tags": [f'tag "{name}" must not contain a comma; commas separate tags']}
            )
        if name.casefold() not in seen:
            seen.add(name.casefold())
            cleaned.append(name)
    return cleaned


def _tag_create(name: str) -> Tag:
    """A new tag row ``name`` whose slug fits its column (a concurrent request's row if it
    created the same name first)."""
    limit = Tag._meta.get_field("slug").max_length or TAG_MAX_LENGTH
    base = slugify(name, allow_unicode=True)[: limit - 12] or "tag"  # room for "_<number>"
    for _ in range(3):
        taken = set(Tag.objects.filter(slug__startswith=base).values_list("slug", flat=True))
        slug, number = base, 1
        while slug in taken:
            slug, number = f"{base}_{number}", number + 1
        try:
            with transaction.atomic():
                return Tag.objects.create(name=name, slug=slug)
        except IntegrityError:  # the name or the slug was taken meanwhile
            found = Tag.objects.filter(name=name).first()
            if found is not None:
                return found
    raise Conflict({"tags": [f'tag "{name}" is being created by another request; try again']})


def tag_rows(names: Sequence[str]) -> list[Tag]:
    """The tag rows named ``names`` (names are case-sensitive), created where missing.

    taggit would create them itself, slugging each name and appending ``_1``, ``_2``... on a
    clash without cutting the slug to its 100-character column (and NFKC can make a slug
    longer than its name: "㍿" is four letters): PostgreSQL refused such a row, a 500.
    """
    found = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return [found.get(name) or _tag_create(name) for name in names]


def _tags_set(obj: Campaign | Broadcast, tags: list[str]) -> None:
    obj.tags.set(tag_rows(tags))
    # A list view prefetches tags; drop that cache so the response shows the new ones.
    getattr(obj, "_prefetched_objects_cache", {}).pop("tags", None)


def _save(obj: models.Model, *, fields: list[str], creating: bool) -> None:
    """Validate (choices, blank names, lengths) and write only ``fields`` on update."""
    # The workspace is a row the caller already holds: checking it exists is a wasted query.
    obj.full_clean(exclude=["workspace"])
    if creating:
        obj.save()
    else:
        obj.save(update_fields=[*fields, "updated_at"])


# --- campaigns ---------------------------------------------------------------------------


def campaign_create(
    *,
    workspace: Workspace,
    name: str,
    status: str = CampaignStatus.DRAFT,
    tags: Sequence[str] = (),
) -> Campaign:
    now = timezone.now()
    tag_names = tags_clean(tags)
    campaign = Campaign(
        workspace=workspace, name=name.strip(), status=status, created_at=now, updated_at=now
    )
    with transaction.atomic():
        _save(campaign, fields=[], creating=True)
        _tags_set(campaign, tag_names)
    return campaign


def campaign_update(
    *,
    campaign: Campaign,
    name: str | None = None,
    status: str | None = None,
    tags: Sequence[str] | None = None,
) -> Campaign:
    """Change the given fields; ``updated_at`` moves even when only the tags changed."""
    tag_names = tags_clean(tags) if tags is not None else None
    fields = []
    if name is not None:
        campaign.name = name.strip()
        fields.append("name")
    if status is not None:
        campaign.status = status
        fields.append("status")
    campaign.updated_at = timezone.now()
    with transaction.atomic():
        _save(campaign, fields=fields, creating=False)
        if tag_names is not None:
            _tags_set(campaign, tag_names)
    return campaign


# --- broadcasts --------------------------------------------------------------------------


def broadcast_create(
    *,
    workspace: Workspace,
    name: str,
    kind: str = BroadcastKind.NEWSLETTER,
    status: str = BroadcastStatus.DRAFT,
    channels: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> Broadcast:
    now = timezone.now()
    tag_names = tags_clean(tags)
    broadcast = Broadcast(
        workspace=workspace,
        name=name.strip(),
        kind=kind,
        status=status,
        channels=list(dict.fromkeys(channels)),
        created_at=now,
        updated_at=now,
    )
    with transaction.atomic():
        _save(broadcast, fields=[], creating=True)
        _tags_set(broadcast, tag_names)
    return broadcast


def broadcast_kind_check(*, broadcast: Broadcast, kind: str) -> None:
    """Raise ``Conflict`` on ``kind`` if a stored broadcast that is a goal source would stop
    being a newsletter. Only newsletters can be goal sources (SPEC §4.3); turning a source into
    another kind would leave goals crediting a broadcast they could never have chosen. The
    API's update and the admin's form both ask here, inside the transaction that saves.

    In a transaction the broadcast's row is locked first (until the save commits), as a goal
    taking it as a source locks it (``goals.services``): checked without it, a source added
    meanwhile was missed and the goal credited a broadcast that was no newsletter any more.
    ``FOR NO KEY UPDATE`` leaves ingestion's foreign-key checks on the row free.
    """
    if broadcast.pk is None or kind == BroadcastKind.NEWSLETTER:
        return
    if transaction.get_connection().in_atomic_block:
        locked = Broadcast.objects.select_for_update(no_key=True).filter(pk=broadcast.pk)
        list(locked.values_list("pk", flat=True))
    if broadcast.goal_sources.exists():  # type: ignore[attr-defined]
        raise Conflict(
            {"kind": ["this broadcast is a goal source; only newsletters can be sources"]}
        )


def broadcast_update(
    *,
    broadcast: Broadcast,
    name: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    channels: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> Broadcast:
    """Change the given fields. ``channels`` replaces the list (repeats dropped)."""
    tag_names = tags_clean(tags) if tags is not None else None
    fields = []
    if name is not None:
        broadcast.name = name.strip()
        fields.append("name")
    new_kind = kind if kind is not None and kind != broadcast.kind else None
    if new_kind is not None:
        broadcast.kind = new_kind
        fields.append("kind")
    if status is not None:
        broadcast.status = status
        fields.append("status")
    if channels is not None:
        broadcast.channels = list(dict.fromkeys(channels))
        fields.append("channels")
    broadcast.updated_at = timezone.now()
    with transaction.atomic():
        if new_kind is not None:
            # In the transaction: the check locks the row until the save commits.
            broadcast_kind_check(broadcast=broadcast, kind=new_kind)
        _save(broadcast, fields=fields, creating=False)
        if tag_names is not None:
            _tags_set(broadcast, tag_names)
    return broadcast


# --- segments ----------------------------------------------------------------------------


def segment_create(*, workspace: Workspace, name: str) -> Segment:
    now = timezone.now()
    segment = Segment(workspace=workspace, name=name.strip(), created_at=now, updated_at=now)
    with transaction.atomic():
        _save(segment, fields=[], creating=True)
    return segment


def segment_update(*, segment: Segment, name: str | None = None) -> Segment:
    fields = []
    if name is not None:
        segment.name = name.strip()
        fields.append("name")
    segment.updated_at = timezone.now()
    with transaction.atomic():
        _save(segment, fields=fields, creating=False)
    return segment
