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
    pending_client_ids: list[str] | None = None,
) -> int:
    """Derive what one ingestion stored raw, then bring the workspace's goals up to date.

    ``message_ids`` are messages created or given a metric; the other lists are the rows the
    request stored (events, segment membership changes, attribute snapshots), and
    ``pending_client_ids`` the client ids of messages not stored yet that metrics were kept
    for. The request refreshed its messages' reached columns; the task refreshes those of
    messages whose waiting metrics it moves, before goal evaluation reads them. Every step
    re-derives from stored rows, so a retry or a duplicate delivery changes nothing. Returns
    how many goals were re-evaluated.
    """
    from goals import engine  # goals builds on campaigns; the import stays one-way at load

    # The request storing a message stores the metrics that waited for it, but a metric kept
    # pending by a request committing at the same time is seen by neither. Both tasks run
    # after their own commit, so the later one sees the message and the metric: look again.
    moved = services.pending_metrics_apply(
        workspace_id=workspace_id,
        message_ids=message_ids or [],
        client_ids=pending_client_ids or [],
    )
    # The request derived its own messages' reach before it committed (``ingestion``); the
    # metrics moved here are new to theirs.
    services.message_reach_refresh(message_ids=sorted(moved))
    message_ids = sorted({*(message_ids or []), *moved})
    return engine.process_ingested(
        workspace_id=workspace_id,
        message_ids=message_ids,
        event_ids=event_ids or [],
        segment_change_ids=segment_change_ids or [],
        attribute_change_ids=attribute_change_ids or [],
    )
