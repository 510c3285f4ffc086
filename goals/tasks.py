"""Goal background tasks: thin, idempotent, take ids, re-check state before acting."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from goals import engine


@shared_task(bind=True, acks_late=True, max_retries=360)
def recompute_goal(self: Any, goal_id: int) -> bool:
    """Rebuild one goal's result. Safe to run twice or concurrently: the second waits for the
    first's lease, then finds the goal current and does nothing."""
    try:
        return engine.recompute(goal_id=goal_id)
    except engine.LeaseHeld as exc:
        if self.request.is_eager:
            # In-process (no broker): the recompute holding the lease builds again for any
            # change made while it builds, and a retry here would only spin.
            return False
        raise self.retry(exc=exc, countdown=5) from exc


@shared_task(acks_late=True)
def reconcile() -> dict[str, int]:
    """Beat: restart lost recomputes and re-evaluate recently arrived data."""
    return engine.reconcile()
