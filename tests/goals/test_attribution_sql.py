"""The set-based attribution (one UPDATE per goal) agrees with the pure reference rule on random
people, messages, metrics, settings and achievements."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import channels, services
from campaigns.models import Broadcast, Campaign, Message, MessageMetric, Person
from campaigns.services import message_reach_refresh
from goals import attribution, engine
from goals.engine import credit
from goals.models import Achievement, Goal, GoalSource

BASE = datetime(2026, 3, 20, tzinfo=UTC)  # Berlin's DST change (03-29) falls inside the span
TRACKING_START = datetime(2025, 11, 1, tzinfo=UTC)
names = itertools.count()

metric_event = st.builds(
    lambda metric, minutes, machine: attribution.MetricEvent(
        metric, BASE + timedelta(minutes=minutes), machine and metric in channels.MACHINE_METRICS
    ),
    st.one_of(st.sampled_from(channels.CHAIN), st.sampled_from(channels.ALL_METRICS)),
    st.integers(0, 5 * 24 * 60),
    st.booleans(),
)

message_case = st.fixed_dictionaries(
    {
        "person": st.integers(0, 2),
        "channel": st.sampled_from(channels.CHANNELS),
        "source": st.sampled_from(["c1", "c1", "c2", "b1", "b1", "other", None]),
        "anonymous": st.booleans(),
        # Often the same minute, so ties on touch and sent time are decided by delivery id.
        "sent": st.one_of(st.integers(0, 5 * 24 * 60), st.just(3 * 24 * 60)),
        "metrics": st.lists(metric_event, min_size=1, max_size=4),
    }
)

settings_case = st.fixed_dictionaries(
    {
        "window_days": st.sampled_from([0, 1, 2, 3, 7, 90]),
        "count_machine": st.booleans(),
        # The defaults often: on PostgreSQL they are attributed through the touch index.
        "metrics": st.one_of(
            st.just(channels.default_attribution_metrics()),
            st.fixed_dictionaries(
                {c: st.sampled_from(chain) for c, chain in channels.CHANNEL_CHAINS.items()}
            ),
        ),
        "zone": st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata"]),
    }
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=st.lists(message_case, min_size=1, max_size=12),
    delivery_numbers=st.permutations(range(5, 17)),
    goal_settings=settings_case,
    achieved=st.lists(
        st.tuples(st.integers(0, 2), st.integers(2 * 24 * 60, 6 * 24 * 60)), max_size=6
    ),
)
def test_sql_attribution_equals_the_reference_rule(
    db: None,
    messages: list[dict],
    delivery_numbers: list[int],
    goal_settings: dict,
    achieved: list[tuple[int, int]],
) -> None:
    workspace = services.workspace_create(name=f"w{next(names)}", time_zone=goal_settings["zone"])
    people = [Person.objects.create(workspace=workspace, identifier=f"p{i}") for i in range(3)]
    c1 = Campaign.objects.create(workspace=workspace, name="c1", deleted_at=BASE)
    c2 = Campaign.objects.create(workspace=workspace, name="c2")
    b1 = Broadcast.objects.create(workspace=workspace, name="b1")
    other = Campaign.objects.create(workspace=workspace, name="other")
    sources: dict[str, Campaign | Broadcast] = {"c1": c1, "c2": c2, "b1": b1, "other": other}
    goal = Goal.objects.create(
        workspace=workspace,
        name="g",
        criteria={"trigger": {"type": "event", "name": "x"}},
        window_days=goal_settings["window_days"],
        metrics=goal_settings["metrics"],
        count_machine=goal_settings["count_machine"],
        current_version=1,
    )
    GoalSource.objects.create(goal=goal, campaign=c1)
    GoalSource.objects.create(goal=goal, campaign=c2)
    GoalSource.objects.create(goal=goal, broadcast=b1)
    goal_sources = frozenset(
        {
            ("campaign", sources["c1"].pk),
            ("campaign", sources["c2"].pk),
            ("broadcast", sources["b1"].pk),
        }
    )

    candidates: dict[int, list[attribution.Candidate]] = {0: [], 1: [], 2: []}
    for n, case in enumerate(messages):
        anonymous = case["anonymous"] and case["channel"] == "in_app"
        person = None if anonymous else people[case["person"]]
        source = sources.get(case["source"] or "")
        row = Message.objects.create(
            workspace=workspace,
            # Delivery ids in another order than arrival (and row ids), "m9" below "m10".
            client_id=f"m{delivery_numbers[n]}",
            person=person,
            person_key=person.key if person else None,
            channel=case["channel"],
            campaign=source if isinstance(source, Campaign) else None,
            broadcast=source if isinstance(source, Broadcast) else None,
            anonymous=anonymous,
            sent_at=BASE + timedelta(minutes=case["sent"]),
        )
        allowed = [e for e in case["metrics"] if e.metric in channels.channel_metrics(row.channel)]
        unique = {(e.metric, e.timestamp, e.machine): e for e in allowed}.values()
        MessageMetric.objects.bulk_create(
            MessageMetric(
                workspace=workspace,
                message=row,
                metric=e.metric,
                timestamp=e.timestamp,
                machine=e.machine,
            )
            for e in unique
        )
        message_reach_refresh(message_ids=[row.pk])
        if person is not None:
            ref = None
            if isinstance(source, Campaign):
                ref = ("campaign", source.pk)
            elif isinstance(source, Broadcast):
                ref = ("broadcast", source.pk)
            candidates[case["person"]].append(
                attribution.Candidate(
                    row.pk, row.channel, row.sent_at, ref, anonymous, tuple(unique), row.client_id
                )
            )

    spec = engine.GoalSpec.load(Goal.objects.select_related("workspace").get(pk=goal.pk))
    for n, (who, minutes) in enumerate(achieved):
        at = BASE + timedelta(minutes=minutes)
        Achievement.objects.create(
            goal=goal,
            version=1,
            person_key=people[who].key,
            person=people[who],
            achieved_at=at,
            local_date=at.date(),
            trigger_kind="event",
            trigger_id=n,
            window_start=spec.window_start(at),
        )
    engine.attribute_achievements(spec, version=1)
    # The recompute path (as-of join while copying) must agree with the UPDATE path.
    rows = [
        (goal.pk, 2, *row[2:])
        for row in Achievement.objects.filter(goal=goal, version=1).values_list(
            *(Achievement._meta.get_field(f).attname for f in engine.BUILD_FIELDS)  # type: ignore[union-attr]
        )
    ]
    engine.build_attributed(spec, version=2, rows=[rows])
    versions = [1, 2]
    if connection.vendor == "postgresql":
        # And the other of its two ways (the LATERAL join through the touch index, or the
        # as-of join), whichever the goal's settings chose: any settings give the same credit.
        chosen = credit._touch_indexed(spec)
        with mock.patch.object(credit, "_touch_indexed", return_value=not chosen):
            engine.build_attributed(spec, version=3, rows=[[(goal.pk, 3, *r[2:]) for r in rows]])
        versions.append(3)
    credits = {
        version: dict(
            Achievement.objects.filter(goal=goal, version=version).values_list(
                "trigger_id", "message_id"
            )
        )
        for version in versions
    }
    assert all(credits[version] == credits[1] for version in versions)

    rule_settings = attribution.AttributionSettings(
        window_days=goal_settings["window_days"],
        metrics=goal_settings["metrics"],
        count_machine=goal_settings["count_machine"],
    )
    for achievement in Achievement.objects.filter(goal=goal, version=1).order_by("trigger_id"):
        who = achieved[achievement.trigger_id][0]
        expected = attribution.attribute(
            achieved_at=achievement.achieved_at,
            candidates=candidates[who],
            sources=goal_sources,
            settings=rule_settings,
            tz=workspace.tz,
            not_before=TRACKING_START,
        )
        got = None
        if achievement.message_id is not None:
            credited: attribution.SourceRef = (
                ("campaign", achievement.source_campaign_id)
                if achievement.source_campaign_id
                else ("broadcast", achievement.source_broadcast_id or 0)
            )
            assert achievement.touch_at is not None
            got = attribution.Credit(achievement.message_id, credited, achievement.touch_at)
        assert got == expected
