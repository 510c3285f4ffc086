"""The messaging data that goals are measured on (SPEC §2-3).

Every row belongs to one workspace. People carry a stable anonymous ``key`` (a UUID) that every
event, message and segment change copies: deleting a person removes the Person row and its
attribute history (the personal data) while their history keeps counting under that key.

Messages carry denormalised "reached" columns, the first time the message reached each step of
its channel's chain (or a later step). They are derived from the raw ``MessageMetric`` rows by
``campaigns.services.message_reach_refresh`` and make an attribution touch time one column read
instead of an aggregate over metrics.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
import zoneinfo
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Length
from django.utils import timezone
from taggit.managers import TaggableManager

from campaigns import channels
from campaigns.expressions import ByCodePoint

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names a workspace may use (SPEC §2). ``ZoneInfo`` also opens any other
    file of the zone directory: ``localtime`` (the server's own zone, so reports would depend
    on the machine), ``right/...`` (counting leap seconds: local days 27 s off), the POSIX
    copies and, on case-insensitive file systems, misspelt names; none of them is an IANA name.
    """
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


def validate_time_zone(value: str) -> None:
    try:
        if value not in time_zone_names():
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)"
        ) from None


class WorkspaceQuerySet(models.QuerySet):
    """The one place rows are scoped to a workspace. Nothing is fetched by bare primary key."""

    def in_workspace(self, workspace: Workspace | int) -> Self:
        workspace_id = workspace if isinstance(workspace, int) else workspace.pk
        return self.filter(workspace_id=workspace_id)

    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Rows of every workspace ``user`` is a member of (all rows for a superuser)."""
        if getattr(user, "is_superuser", False):
            return self
        if not user.is_authenticated:
            return self.none()
        return self.filter(workspace__memberships__user=user)


class SoftDeleteQuerySet(WorkspaceQuerySet):
    def alive(self) -> Self:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> Self:
        return self.filter(deleted_at__isnull=False)


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name; report days and ISO weeks follow this zone's calendar.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


#: Roles that may change data. Admins also manage members and tokens.
WRITE_ROLES = frozenset({Role.ADMIN, Role.EDITOR})


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.workspace}"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A workspace API token. Only a SHA-256 hash is stored; the secret is shown once."""

    PREFIX = "gk_"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    # The first characters of the secret, kept so people can tell their tokens apart.
    prefix = models.CharField(max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def set_new_secret(self) -> str:
        """Give the token a fresh secret and return it; the caller shows it once."""
        secret = self.PREFIX + secrets.token_urlsafe(32)
        self.prefix = secret[:10]
        self.token_hash = hash_token(secret)
        return secret


class Person(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="people")
    identifier = models.CharField(max_length=255, help_text="The client's customer id.")
    email = models.EmailField(max_length=254, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    # Survives the person's deletion on every event, message and segment change they had.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "identifier"], name="person_unique_identifier"
            ),
        ]

    def __str__(self) -> str:
        return self.identifier


class PersonAttributeChange(models.Model):
    """One attribute patch a person item carried, and the full attribute set it leaves.

    ``patch`` is what the item said (a ``null`` value removes the key); ``attributes`` is the
    snapshot after applying every patch of the person ordered by (timestamp, id) up to and
    including this one. Patches are what is stored as received; snapshots are derived from
    them and rebuilt when an older patch arrives late, so the history does not depend on
    arrival order (SPEC §4.5). Attribute triggers ("starts to satisfy a condition") and filters
    ("holds at that moment") are evaluated against the snapshots. It is personal data: it goes
    with the person.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="attribute_changes")
    person_key = models.UUIDField()
    timestamp = models.DateTimeField()
    patch = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            models.Index(fields=["person_key", "timestamp"], name="attrchange_key_time"),
            models.Index(fields=["received_at"], name="attrchange_received"),
        ]

    def __str__(self) -> str:
        return f"attributes of {self.person_key} @ {self.timestamp:%Y-%m-%d %H:%M}"


class Event(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    person_key = models.UUIDField()
    name = models.CharField(max_length=255)
    data = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    # NULL, not "", when absent: the unique constraint must ignore events without an id.
    client_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="The client's event id (idempotency)."
    )
    received_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "client_id"],
                condition=Q(client_id__isnull=False),
                name="event_unique_client_id",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "name", "timestamp"], name="event_ws_name_time"),
            models.Index(fields=["person_key", "timestamp"], name="event_key_time"),
            # "What arrived since T" (recompute catch-up, the reconcile pass).
            models.Index(fields=["received_at"], name="event_received"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.timestamp:%Y-%m-%d %H:%M}"


class Segment(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[SoftDeleteQuerySet] = SoftDeleteQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} (deleted)" if self.deleted_at else self.name


class SegmentAction(models.TextChoices):
    ENTER = "enter", "Entered"
    LEAVE = "leave", "Left"


class SegmentMembershipChange(models.Model):
    """Person entered / left segment S at time T. Membership at a moment is the latest change."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="changes")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="segment_changes"
    )
    person_key = models.UUIDField()
    action = models.CharField(max_length=5, choices=SegmentAction.choices)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = [
            models.Index(fields=["segment", "person_key", "timestamp"], name="segchange_seg_key"),
            models.Index(fields=["person_key", "timestamp"], name="segchange_key_time"),
            models.Index(fields=["received_at"], name="segchange_received"),
        ]

    def __str__(self) -> str:
        return f"{self.action} segment {self.segment_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    ARCHIVED = "archived", "Archived"


class Campaign(models.Model):
    """An automated workflow whose messages reach people one by one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    tags = TaggableManager(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Soft delete: hidden everywhere, but its messages and attributions keep its name.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[SoftDeleteQuerySet] = SoftDeleteQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "name"], name="campaign_ws_name")]

    def __str__(self) -> str:
        return f"{self.name} (deleted)" if self.deleted_at else self.name


class BroadcastKind(models.TextChoices):
    NEWSLETTER = "newsletter", "Newsletter"
    API_TRIGGERED = "api_triggered", "API-triggered"
    IN_APP = "in_app", "In-app"


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"


class Broadcast(models.Model):
    """A message sent to a whole audience at once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="broadcasts")
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=16, choices=BroadcastKind.choices, default=BroadcastKind.NEWSLETTER
    )
    status = models.CharField(
        max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    # A JSON list of channel names; filtered with a quoted substring match, which works on
    # SQLite and PostgreSQL alike (see campaigns.filters).
    channels = models.JSONField(default=list, blank=True)
    tags = TaggableManager(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[SoftDeleteQuerySet] = SoftDeleteQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "name"], name="broadcast_ws_name")]

    def __str__(self) -> str:
        return f"{self.name} (deleted)" if self.deleted_at else self.name

    def clean(self) -> None:
        errors = validate_channel_list(self.channels)
        if errors:
            raise ValidationError({"channels": errors})


def validate_channel_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return ["must be a list of channel names"]
    return [
        f"unknown channel {c!r}; expected one of {', '.join(channels.CHANNELS)}"
        for c in value
        if c not in channels.CHANNEL_CHAINS
    ]


def default_touch_time() -> models.Case:
    """When a message first reached its channel's default qualifying metric (SPEC §4.4:
    ``delivered`` where the channel has it, else ``sent``, however machine opens and clicks
    count). ``goals.engine.credit._touch_sql_of`` writes the same expression in SQL for any
    settings; for the defaults it must stay identical to this one, or the database cannot use
    the index on it (a test holds them together)."""
    return models.Case(
        *(
            models.When(
                channel=channel,
                then=F("reached_delivered_at")
                if channels.default_qualifying_metric(channel) == channels.DELIVERED
                else Coalesce(F("reached_sent_at"), F("sent_at")),
            )
            for channel in channels.CHANNELS
        ),
        output_field=models.DateTimeField(),
    )


class Message(models.Model):
    """One delivery to one person on one channel: from a campaign, a broadcast, or neither
    (transactional). Anonymous in-app messages have no person and never count for goals."""

    # No index of their own for workspace, campaign and broadcast: the unique delivery id and
    # the (source, sent_at) indexes lead with them, and every index costs each write.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    client_id = models.CharField(max_length=255, help_text="The client's delivery id.")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    person_key = models.UUIDField(null=True, blank=True)
    channel = models.CharField(max_length=16, choices=channels.CHANNEL_CHOICES)
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        db_index=False,
    )
    broadcast = models.ForeignKey(
        Broadcast,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        db_index=False,
    )
    anonymous = models.BooleanField(default=False)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    # First time the message reached each step or a later one of its chain. `*_human_at`
    # ignore machine opens/clicks, which still prove the steps before `opened`.
    reached_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_opened_human_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_clicked_at = models.DateTimeField(null=True, blank=True, editable=False)
    reached_clicked_human_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "client_id"], name="message_unique_id"),
            models.CheckConstraint(
                condition=Q(campaign__isnull=True) | Q(broadcast__isnull=True),
                name="message_one_source",
            ),
            models.CheckConstraint(
                condition=Q(anonymous=False) | (Q(channel="in_app") & Q(person_key__isnull=True)),
                name="message_anonymous_in_app",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=list(channels.CHANNELS)), name="message_known_channel"
            ),
        ]
        # ``message_person_touch_rank``: a person's messages by their touch time under the
        # default attribution settings, then by the rest of the rule's tie-break (sent time,
        # delivery id by length and code point, row id), which attribution walks backwards
        # from an achievement and stops at the first message from a source
        # (``goals.engine.TOUCH_INDEX``). It carries every column that walk reads, so it
        # need not visit the table. It also serves every lookup of a person's messages.
        indexes = [
            models.Index(
                F("person_key"),
                default_touch_time(),
                F("sent_at"),
                Length("client_id"),
                ByCodePoint("client_id"),
                F("id"),
                include=[
                    "anonymous",
                    "campaign",
                    "broadcast",
                    "channel",
                    "reached_delivered_at",
                    "reached_sent_at",
                ],
                name="message_person_touch_rank",
            ),
            models.Index(fields=["campaign", "sent_at"], name="message_campaign_sent"),
            models.Index(fields=["broadcast", "sent_at"], name="message_broadcast_sent"),
            models.Index(fields=["received_at"], name="message_received"),
        ]

    def __str__(self) -> str:
        return self.client_id

    @property
    def source(self) -> Campaign | Broadcast | None:
        return self.campaign or self.broadcast


class MessageMetric(models.Model):
    """A raw metric event of a message, as received. Never updated."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="metrics")
    metric = models.CharField(max_length=16, choices=channels.METRIC_CHOICES)
    timestamp = models.DateTimeField()
    machine = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            # A client retrying the same metric stores it once.
            models.UniqueConstraint(
                fields=["message", "metric", "timestamp", "machine"], name="metric_unique"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="metric_received")]

    def __str__(self) -> str:
        return f"{self.metric}{' (machine)' if self.machine else ''} @ {self.timestamp}"


class PendingMetric(models.Model):
    """A metric that arrived before its message, kept until a message with that client id is
    stored (SPEC §4.5: the result never depends on arrival order).

    It was validated as far as it can be without the message (metric name, timestamp, machine
    flag); ``campaigns.services.pending_metrics_apply`` then checks it against the message's
    channel, moves it into ``MessageMetric`` and deletes it here. A message that never arrives
    leaves its metrics here, where they count for nothing.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message_client_id = models.CharField(
        max_length=255, help_text="The client's delivery id of the message it waits for."
    )
    metric = models.CharField(max_length=16, choices=channels.METRIC_CHOICES)
    timestamp = models.DateTimeField()
    machine = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            # A retry is kept once; led by (workspace, message id), the lookup when it arrives.
            models.UniqueConstraint(
                fields=["workspace", "message_client_id", "metric", "timestamp", "machine"],
                name="pending_metric_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.message_client_id} @ {self.timestamp} (pending)"
