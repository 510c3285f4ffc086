"""Background work after ingestion. Tasks take ids, call a service, and are safe to repeat."""

from __future__ import annotations

from celery import shared_task

from campaigns import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def process_ingested(
    workspace_id: int,
    message_ids: list[int] | None = None,
    *,
    event_ids: list[int] | None = None,
    segment_change_ids: list[int] | None = None,
    attribute_change_ids: list[int] | None = None,
) -> int:
    """Derive what ingestion stored raw: refresh the touched messages' reached columns.

    ``message_ids`` are messages created or given a metric; the other lists are the rows one
    ingestion request stored (events, segment membership changes, attribute snapshots) so the
    goals engine can evaluate exactly those. The goals engine hooks its evaluation in here (it
    runs after the refresh, so it sees the messages' current reach).
    """
    return services.message_reach_refresh(message_ids=message_ids or [])
