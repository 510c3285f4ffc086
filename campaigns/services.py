"""Writes to the messaging data. Ingestion services live here (see the API issue)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from campaigns import channels
from campaigns.models import (
    ApiToken,
    Broadcast,
    Campaign,
    Membership,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    Role,
    Segment,
    Workspace,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def _first_reached(levels: Iterable[str], *, human_only: bool) -> Subquery:
    metrics = MessageMetric.objects.filter(message_id=OuterRef("pk"), metric__in=list(levels))
    if human_only:
        metrics = metrics.filter(machine=False)
    return Subquery(
        metrics.order_by().values("message_id").annotate(first=Min("timestamp")).values("first")[:1]
    )


def message_reach_refresh(*, message_ids: Iterable[int]) -> int:
    """Recompute the ``reached_*`` columns of these messages from their raw metrics.

    Set-based (one UPDATE with correlated subqueries) and idempotent: the columns are a pure
    function of the stored metrics, so arrival order and repeats do not matter. A machine open
    or click still proves `sent` and `delivered`; it only fails to prove a human `opened` /
    `clicked`.
    """
    ids = list(message_ids)
    if not ids:
        return 0
    at_or_after = {m: channels.CHAIN[channels.LEVEL[m] :] for m in channels.CHAIN}
    any_chain = _first_reached(channels.CHAIN, human_only=False)
    with transaction.atomic():
        # Lock the rows in id order first: the UPDATE alone locks them in the order its plan
        # reads them (a table scan meets updated rows where they moved, an index reads them by
        # id), so two refreshes of overlapping messages (reconcile passes, ingestion tasks)
        # locked them in opposite orders and one was killed by PostgreSQL's deadlock check.
        # ``no_key``: the UPDATE's own lock, which lets ingestion's foreign-key checks through.
        locking = Message.objects.select_for_update(no_key=True).filter(pk__in=ids)
        list(locking.order_by("pk").values("pk"))
        return Message.objects.filter(pk__in=ids).update(
            reached_sent_at=Least(F("sent_at"), Coalesce(any_chain, F("sent_at"))),
            reached_delivered_at=_first_reached(at_or_after[channels.DELIVERED], human_only=False),
            reached_opened_at=_first_reached(at_or_after[channels.OPENED], human_only=False),
            reached_opened_human_at=_first_reached(at_or_after[channels.OPENED], human_only=True),
            reached_clicked_at=_first_reached(at_or_after[channels.CLICKED], human_only=False),
            reached_clicked_human_at=_first_reached(at_or_after[channels.CLICKED], human_only=True),
        )


def pending_metrics_apply(
    *, workspace_id: int, message_ids: Iterable[int] = (), client_ids: Iterable[str] = ()
) -> set[int]:
    """Store the metrics that arrived before their message, now that it is stored.

    Looks at the ``PendingMetric`` rows waiting for these messages (by row id) and for these
    client message ids; those whose message exists become ``MessageMetric`` rows (received
    now, so the reconcile pass sees them like any new metric) and leave the pending table, the
    others keep waiting. A metric the message's channel does not have is dropped with a
    warning: it would have been refused had it come after the message, but its client was
    answered 202 long ago. Idempotent and safe to run concurrently: a metric already stored is
    stored once (the unique constraint), and deleting a moved row twice deletes it once.

    Returns the ids of the messages that received metrics: their reach and people must be
    re-derived, as after any new metric (``campaigns.tasks.process_ingested``).
    """
    message_ids = list(message_ids)
    client_ids = set(client_ids)
    wanted = Q(message_client_id__in=client_ids)
    if message_ids:
        wanted |= Q(
            message_client_id__in=Message.objects.filter(pk__in=message_ids).values("client_id")
        )
    with transaction.atomic():
        pending = list(PendingMetric.objects.in_workspace(workspace_id).filter(wanted))
        if not pending:
            return set()
        messages = {
            m.client_id: m
            for m in Message.objects.in_workspace(workspace_id)
            .filter(client_id__in={p.message_client_id for p in pending})
            .only("id", "client_id", "channel")
        }
        now = timezone.now()
        applied: list[int] = []
        metrics: list[MessageMetric] = []
        for row in pending:
            message = messages.get(row.message_client_id)
            if message is None:
                continue  # still waiting for its message
            applied.append(row.pk)
            reason = channels.metric_error(message.channel, row.metric)
            if reason is not None:
                logger.warning(
                    "Dropped a pending metric of message %r in workspace %s: %s",
                    row.message_client_id,
                    workspace_id,
                    reason,
                )
                continue
            metrics.append(
                MessageMetric(
                    workspace_id=workspace_id,
                    message=message,
                    metric=row.metric,
                    timestamp=row.timestamp,
                    machine=row.machine,
                    received_at=now,
                )
            )
        MessageMetric.objects.bulk_create(metrics, ignore_conflicts=True)
        PendingMetric.objects.filter(pk__in=applied).delete()
    return {m.message_id for m in metrics}


# --- workspaces and tokens --------------------------------------------------------------------


def workspace_create(*, name: str, time_zone: str = "UTC", owner: User | None = None) -> Workspace:
    """Create a workspace (validating its time zone), making ``owner`` its admin."""
    workspace = Workspace(name=name, time_zone=time_zone)
    workspace.full_clean()
    with transaction.atomic():
        workspace.save()
        if owner is not None:
            Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    return workspace


def api_token_create(
    *,
    workspace: Workspace,
    name: str,
    role: str = Role.EDITOR,
    created_by: User | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token; returns it with its secret, which is not stored and cannot be shown again."""
    token = ApiToken(workspace=workspace, name=name, role=role, created_by=created_by)
    secret = token.set_new_secret()
    token.full_clean()
    token.save()
    return token, secret


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first revocation time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


# --- deletions that keep history ------------------------------------------------------------


def source_soft_delete(*, source: Campaign | Broadcast | Segment) -> None:
    """Hide a campaign, broadcast or segment everywhere while keeping its history (SPEC §3).

    Its messages and attributions keep pointing at it; it is shown as deleted.
    """
    type(source).objects.filter(pk=source.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )
    source.refresh_from_db(fields=["deleted_at"])


def person_delete(*, person: Person) -> None:
    """Remove a person's personal data (the Person row, email, attributes and their history).

    Events, messages and segment changes keep the person's anonymous ``key`` (their ``person``
    link becomes NULL), so everything they achieved keeps counting.

    The row is locked first: a request storing rows that link to the person then waits at its
    commit until the deletion is done (and stores them again for a new person, see
    ``campaigns.ingestion.ingest``), instead of committing links between the deletion's
    clearing them and removing the row, which made the deletion fail.
    """
    with transaction.atomic():
        locked = Person.objects.select_for_update().filter(pk=person.pk).first()
        if locked is not None:  # else deleted by another request meanwhile
            from goals import engine  # goals builds on campaigns; the import stays one-way

            # What their attributes decided is settled while the attributes still exist.
            engine.settle_before_deletion(workspace_id=locked.workspace_id, person_key=locked.key)
            locked.delete()
