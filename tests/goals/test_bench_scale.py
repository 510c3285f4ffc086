"""``bench_scale`` grows the benchmark workspace to the issue's size: copies of its messages
(new delivery ids, times shifted alike) and copies of an event under a new name, which a
``bench_goals --event`` goal then credits against those messages."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from campaigns.models import Event, Message


def test_it_needs_postgresql(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_scale", stdout=StringIO())


@pytest.mark.postgresql
def test_it_adds_copies_until_the_workspace_has_the_size_asked(db: Any) -> None:
    call_command("seed_demo", "--people", "40", "--days", "20", "--no-goals", stdout=StringIO())
    seeded = Message.objects.count()
    originals = {m.client_id: m for m in Message.objects.all()}
    target = seeded * 2 + 7  # more than one round of copies
    out = StringIO()
    call_command(
        "bench_scale", "--messages", str(target), "--achievements", "30", "--event", "bx",
        "--from-event", "signed_up", stdout=out,
    )  # fmt: skip
    assert Message.objects.count() == target
    assert f"{target:,} messages, 30 bx events" in out.getvalue()
    copies = Message.objects.exclude(client_id__in=originals)
    assert copies.count() == target - seeded
    for copy in copies[:200]:
        original = originals[copy.client_id.split("-copy")[0]]
        shift = copy.sent_at - original.sent_at
        assert abs(shift.total_seconds()) <= 48 * 3600 and shift.total_seconds() % 3600 == 0
        assert (copy.person_key, copy.channel, copy.campaign_id, copy.broadcast_id) == (
            original.person_key, original.channel, original.campaign_id, original.broadcast_id
        )  # fmt: skip
        for reached in ("reached_sent_at", "reached_delivered_at", "reached_opened_at"):
            before, after = getattr(original, reached), getattr(copy, reached)
            assert (before is None and after is None) or after - before == shift
    events = Event.objects.filter(name="bx")
    assert events.count() == 30 and not events.exclude(client_id=None).exists()
    signed_up = Event.objects.filter(name="signed_up")
    assert set(events.values_list("person_key", flat=True)) <= set(
        signed_up.values_list("person_key", flat=True)
    )

    # Again: nothing is missing, nothing is added.
    call_command("bench_scale", "--messages", str(target), "--achievements", "30",
                 "--event", "bx", "--from-event", "signed_up", stdout=StringIO())  # fmt: skip
    assert Message.objects.count() == target and events.count() == 30
    duplicated = Message.objects.values("workspace", "client_id").annotate(n=Count("id"))
    assert not duplicated.filter(n__gt=1).exists()
