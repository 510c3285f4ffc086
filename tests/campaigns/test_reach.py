"""The derived ``Message.reached_*`` columns agree with the pure attribution rule's touch time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import channels
from campaigns.models import Message, MessageMetric, Person, Workspace
from campaigns.services import message_reach_refresh
from goals.attribution import Candidate, MetricEvent, touch_time

BASE = datetime(2026, 1, 1, tzinfo=UTC)
counter = itertools.count()

#: How the set-based code reads a touch time: one column per (metric, count machine).
COLUMN = {
    ("sent", True): "reached_sent_at",
    ("sent", False): "reached_sent_at",
    ("delivered", True): "reached_delivered_at",
    ("delivered", False): "reached_delivered_at",
    ("opened", True): "reached_opened_at",
    ("opened", False): "reached_opened_human_at",
    ("clicked", True): "reached_clicked_at",
    ("clicked", False): "reached_clicked_human_at",
}


@st.composite
def message_with_metrics(draw: st.DrawFn) -> tuple[str, int, list[MetricEvent]]:
    channel = draw(st.sampled_from(channels.CHANNELS))
    sent_offset = draw(st.integers(0, 50))
    metric_names = channels.channel_metrics(channel)
    events = draw(
        st.lists(
            st.builds(
                lambda metric, minutes, machine: MetricEvent(
                    metric,
                    BASE + timedelta(minutes=minutes),
                    machine and metric in channels.MACHINE_METRICS,
                ),
                st.sampled_from(metric_names),
                st.integers(0, 60),
                st.booleans(),
            ),
            max_size=6,
            unique_by=lambda e: (e.metric, e.timestamp, e.machine),
        )
    )
    return channel, sent_offset, events


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=message_with_metrics())
def test_reached_columns_equal_the_rules_touch_time(workspace: Workspace, case: tuple) -> None:
    channel, sent_offset, events = case
    person = Person.objects.create(workspace=workspace, identifier=f"p{next(counter)}")
    message = Message.objects.create(
        workspace=workspace,
        client_id=f"m{next(counter)}",
        person=person,
        person_key=person.key,
        channel=channel,
        sent_at=BASE + timedelta(minutes=sent_offset),
    )
    MessageMetric.objects.bulk_create(
        MessageMetric(
            workspace=workspace,
            message=message,
            metric=e.metric,
            timestamp=e.timestamp,
            machine=e.machine,
        )
        for e in events
    )
    message_reach_refresh(message_ids=[message.pk])
    message.refresh_from_db()
    candidate = Candidate(
        message.pk, channel, message.sent_at, ("campaign", 1), False, tuple(events)
    )
    for metric in channels.CHANNEL_CHAINS[channel]:
        for count_machine in (True, False):
            expected = touch_time(candidate, qualifying_metric=metric, count_machine=count_machine)
            assert getattr(message, COLUMN[metric, count_machine]) == expected, (
                metric,
                count_machine,
            )


def test_refreshing_twice_changes_nothing(workspace: Workspace) -> None:
    person = Person.objects.create(workspace=workspace, identifier="p")
    message = Message.objects.create(
        workspace=workspace,
        client_id="m",
        person=person,
        person_key=person.key,
        channel="email",
        sent_at=BASE,
    )
    MessageMetric.objects.create(
        workspace=workspace,
        message=message,
        metric="opened",
        timestamp=BASE + timedelta(hours=1),
        machine=True,
    )
    message_reach_refresh(message_ids=[message.pk])
    first = Message.objects.values().get(pk=message.pk)
    message_reach_refresh(message_ids=[message.pk])
    assert Message.objects.values().get(pk=message.pk) == first
    assert first["reached_delivered_at"] == BASE + timedelta(hours=1)
    assert first["reached_opened_at"] == BASE + timedelta(hours=1)
    assert first["reached_opened_human_at"] is None
