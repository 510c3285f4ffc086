"""seed_demo: a realistic, deterministic, idempotent demo workspace."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from campaigns import channels, demo, services
from campaigns.models import (
    Broadcast,
    Campaign,
    Event,
    Membership,
    Message,
    MessageMetric,
    Person,
    PersonAttributeChange,
    Role,
    Segment,
    SegmentMembershipChange,
    Workspace,
)


def seed(*args: str) -> list[str]:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def demo_ws(db: Any) -> Workspace:
    seed("--people", "60", "--days", "30")
    return Workspace.objects.get(name=demo.DEFAULT_WORKSPACE_NAME)


def test_it_creates_every_kind_of_object(demo_ws: Workspace) -> None:
    counts = demo.workspace_counts(demo_ws)
    assert all(count > 0 for count in counts.values()), counts
    assert counts["people"] == 60
    assert demo_ws.time_zone == "Europe/Berlin"

    campaigns = Campaign.objects.in_workspace(demo_ws)
    assert {"draft", "running", "stopped", "archived"} <= set(
        campaigns.values_list("status", flat=True)
    )
    assert campaigns.deleted().count() == 1
    deleted = campaigns.deleted().get()
    assert Message.objects.filter(campaign=deleted).exists()  # its history is kept
    assert campaigns.filter(tags__isnull=False).distinct().count() == campaigns.count()

    broadcasts = Broadcast.objects.in_workspace(demo_ws)
    assert set(broadcasts.values_list("kind", flat=True)) == {
        "newsletter",
        "api_triggered",
        "in_app",
    }
    newsletters = broadcasts.filter(kind="newsletter")
    assert set(newsletters.values_list("status", flat=True)) == {"sent", "draft"}
    assert Message.objects.filter(broadcast__in=newsletters.filter(status="sent")).exists()
    assert not Message.objects.filter(broadcast__in=newsletters.filter(status="draft")).exists()
    assert not Message.objects.filter(campaign__status="draft").exists()

    assert Segment.objects.in_workspace(demo_ws).deleted().exists()
    actions = set(
        SegmentMembershipChange.objects.in_workspace(demo_ws).values_list("action", flat=True)
    )
    assert actions == {"enter", "leave"}

    messages = Message.objects.in_workspace(demo_ws)
    assert messages.filter(campaign__isnull=True, broadcast__isnull=True).exists()  # transactional
    anonymous = messages.filter(anonymous=True)
    assert anonymous.exists()
    assert not anonymous.exclude(channel="in_app").exists()
    assert not anonymous.filter(person_key__isnull=False).exists()
    assert not anonymous.filter(person__isnull=False).exists()
    assert set(messages.values_list("channel", flat=True)) == set(channels.CHANNELS)


def test_people_have_attributes_and_their_history(demo_ws: Workspace) -> None:
    for person in Person.objects.in_workspace(demo_ws):
        assert {"country", "plan", "signup_date", "language"} <= set(person.attributes)
        history = list(person.attribute_changes.order_by("timestamp", "pk"))
        assert history, person.identifier
        assert history[-1].attributes == person.attributes
        assert all(change.person_key == person.key for change in history)
        assert person.key == uuid.uuid5(demo.KEY_NAMESPACE, f"{demo_ws.pk}:{person.identifier}")
    # Some people changed plan, so the history has more rows than people.
    assert PersonAttributeChange.objects.in_workspace(demo_ws).count() > 60


def test_events_follow_onboarding_and_purchases(db: Any) -> None:
    seed("--people", "400", "--days", "30")
    ws = Workspace.objects.get(name=demo.DEFAULT_WORKSPACE_NAME)
    events = Event.objects.in_workspace(ws)
    names = Counter(events.values_list("name", flat=True))
    for name in (
        "signed_up",
        "onboarding_step_completed",
        "onboarding_completed",
        "trial_started",
        "plan_activated",
    ):
        assert names[name] > 0, name
    assert names["signed_up"] == 400

    prices = [e.data.get("price") for e in events.filter(name="plan_activated")]
    kinds = Counter(
        "missing" if p is None else "string" if isinstance(p, str) else "number" for p in prices
    )
    assert kinds["number"] > kinds["string"] > 0
    assert kinds["missing"] > 0
    assert all(Decimal(p) > 0 for p in prices if isinstance(p, str))  # numeric strings
    assert all(e.data["plan"] in {"pro", "team"} for e in events.filter(name="plan_activated"))
    # Events carry the person's key; most carry a client id (idempotent ingestion).
    assert not events.filter(person_key__isnull=True).exists()
    assert events.filter(client_id__isnull=False).count() > events.count() // 2


def test_nothing_precedes_the_tracking_start(demo_ws: Workspace) -> None:
    start = settings.GOALS_TRACKING_START
    checks = [
        (Person.objects.in_workspace(demo_ws), "created_at"),
        (PersonAttributeChange.objects.in_workspace(demo_ws), "timestamp"),
        (Event.objects.in_workspace(demo_ws), "timestamp"),
        (SegmentMembershipChange.objects.in_workspace(demo_ws), "timestamp"),
        (Message.objects.in_workspace(demo_ws), "sent_at"),
        (MessageMetric.objects.in_workspace(demo_ws), "timestamp"),
        (Campaign.objects.in_workspace(demo_ws), "created_at"),
        (Broadcast.objects.in_workspace(demo_ws), "created_at"),
    ]
    for queryset, field in checks:
        assert queryset.exists()
        assert not queryset.filter(**{f"{field}__lt": start}).exists(), queryset.model


def test_it_cuts_the_window_at_the_tracking_start(db: Any, settings: Any) -> None:
    settings.GOALS_TRACKING_START = timezone.now() - timedelta(days=3)

    seed("--people", "30", "--days", "60")

    ws = Workspace.objects.get(name=demo.DEFAULT_WORKSPACE_NAME)
    start = settings.GOALS_TRACKING_START
    assert not Event.objects.in_workspace(ws).filter(timestamp__lt=start).exists()
    assert not MessageMetric.objects.in_workspace(ws).filter(timestamp__lt=start).exists()
    assert Event.objects.in_workspace(ws).exists()


def test_metrics_are_valid_for_their_channels_and_follow_the_funnel(demo_ws: Workspace) -> None:
    rows = MessageMetric.objects.in_workspace(demo_ws).values_list(
        "message__channel", "metric", "machine", "timestamp", "message__sent_at"
    )
    seen: Counter[tuple[str, bool]] = Counter()
    for channel, metric, machine, timestamp, sent_at in rows:
        assert channels.metric_error(channel, metric) is None, (channel, metric)
        assert not machine or metric in channels.MACHINE_METRICS
        assert timestamp >= sent_at
        seen[metric, machine] += 1
    # Not every message gets every step; some opens and clicks are machines'.
    emails = Message.objects.in_workspace(demo_ws).filter(channel="email")
    delivered = emails.filter(reached_delivered_at__isnull=False).count()
    opened = emails.filter(reached_opened_human_at__isnull=False).count()
    clicked = emails.filter(reached_clicked_human_at__isnull=False).count()
    assert emails.count() > delivered > opened > clicked > 0
    assert seen["opened", True] > 0
    assert sum(seen[m, False] for m in channels.OTHER_METRICS) > 0
    assert seen["bounced", False] + seen["failed", False] > 0


def test_reached_columns_equal_what_message_reach_refresh_computes(demo_ws: Workspace) -> None:
    messages = Message.objects.in_workspace(demo_ws).order_by("pk")
    seeded = list(messages.values_list("pk", *demo.REACH_FIELDS))
    assert any(row[3] is not None for row in seeded)  # some opened
    assert any(row[5] is not None for row in seeded)  # some clicked

    services.message_reach_refresh(message_ids=[row[0] for row in seeded])

    assert list(messages.values_list("pk", *demo.REACH_FIELDS)) == seeded


def test_rerunning_changes_nothing(demo_ws: Workspace) -> None:
    before = demo.workspace_counts(demo_ws)

    lines = seed("--people", "80", "--days", "10")

    assert "already exists" in lines[-2]
    # `make run` seeds on every run: the login is printed each time, not only the first.
    assert lines[-1] == (
        "Log in at /goals/ (the admin is at /admin/) as 'demo' with password 'demo'."
    )
    assert Workspace.objects.filter(name=demo.DEFAULT_WORKSPACE_NAME).count() == 1
    assert demo.workspace_counts(demo_ws) == before
    assert Membership.objects.filter(user__username="demo").count() == 1


def test_the_same_seed_gives_the_same_data(db: Any) -> None:
    seed("--people", "60", "--days", "10", "--seed", "7", "--workspace-name", "One")
    seed("--people", "60", "--days", "10", "--seed", "7", "--workspace-name", "Two")
    seed("--people", "60", "--days", "10", "--seed", "8", "--workspace-name", "Three")
    one, two, three = (Workspace.objects.get(name=n) for n in ("One", "Two", "Three"))

    def fingerprint(ws: Workspace) -> tuple[Any, ...]:
        return (
            demo.workspace_counts(ws),
            list(
                Person.objects.in_workspace(ws)
                .order_by("identifier")
                .values_list("identifier", "email", "attributes")
            ),
            sorted(
                Event.objects.in_workspace(ws).values_list("person__identifier", "name", "data"),
                key=str,
            ),
            sorted(
                Message.objects.in_workspace(ws).values_list(
                    "client_id", "channel", "campaign__name", "broadcast__name"
                ),
                key=str,
            ),
        )

    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one) != fingerprint(three)


def test_it_creates_a_demo_login(demo_ws: Workspace) -> None:
    user = User.objects.get(username="demo")
    assert user.is_staff and not user.is_superuser
    assert Membership.objects.get(user=user, workspace=demo_ws).role == Role.ADMIN
    client = Client()
    assert client.login(username="demo", password="demo")
    response = client.get("/admin/campaigns/campaign/")
    assert response.status_code == 200
    assert "Onboarding - welcome emails" in response.content.decode()


def test_it_prints_progress_counts_and_the_login(db: Any) -> None:
    lines = seed("--people", "20", "--days", "5", "--workspace-name", "Printed")

    text = "\n".join(lines)
    assert "people 20/20" in text
    assert any(line.split()[:1] == ["messages"] for line in lines)
    assert "'demo'" in lines[-1] and "'demo'" in lines[-1].split("password", 1)[1]


def test_a_second_workspace_reuses_the_demo_user_without_resetting_it(demo_ws: Workspace) -> None:
    User.objects.filter(username="demo").update(password="keep")

    lines = seed("--people", "5", "--days", "5", "--workspace-name", "Another")

    assert User.objects.get(username="demo").password == "keep"
    assert "password unchanged" in lines[-1]
    assert Membership.objects.filter(user__username="demo").count() == 2


@pytest.mark.parametrize(("option", "value"), [("--people", "0"), ("--days", "0")])
def test_it_rejects_empty_sizes(db: Any, option: str, value: str) -> None:
    with pytest.raises(CommandError, match=option):
        seed(option, value)

    assert not Workspace.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_creates_demo_goals_computed_from_the_seeded_data() -> None:
    from goals.models import Achievement, Goal, GoalSource

    seed("--people", "200", "--days", "30")
    goals = {goal.name: goal for goal in Goal.objects.all()}
    assert set(goals) == {"Trial to paid", "Onboarding completed", "Win-back: back to paying"}
    for goal in goals.values():
        assert goal.status == "ready" and goal.current_version > 0
    achieved = Achievement.objects.filter(goal=goals["Onboarding completed"])
    assert achieved.exists() and achieved.exclude(message=None).exists()
    # The deleted onboarding campaign stays a source of the onboarding goal.
    assert GoalSource.objects.filter(
        goal=goals["Onboarding completed"], campaign__deleted_at__isnull=False
    ).exists()


def test_it_can_skip_the_demo_goals(db: Any) -> None:
    from goals.models import Goal

    seed("--people", "20", "--days", "10", "--no-goals")
    assert not Goal.objects.exists()


def test_attribute_history_carries_the_patches_ingestion_would_store(demo_ws: Workspace) -> None:
    from campaigns.models import PersonAttributeChange

    for person in demo_ws.people.all()[:20]:
        rebuilt: dict[str, Any] = {}
        for change in PersonAttributeChange.objects.filter(person=person).order_by(
            "timestamp", "id"
        ):
            for key, value in change.patch.items():
                if value is None:
                    rebuilt.pop(key, None)
                else:
                    rebuilt[key] = value
            assert rebuilt == change.attributes


@pytest.mark.django_db(transaction=True)
def test_the_win_back_goal_credits_the_win_back_campaign() -> None:
    """The demo's "Win-back: back to paying" goal shows what its win-back campaigns did: some
    people the campaign reached come back and buy, and are credited to it (before, nobody it
    reached ever bought, and the goal's own campaigns showed 0 next to every newsletter)."""
    from goals.models import Achievement, Goal

    seed("--people", "400", "--days", "45")
    win_back = Goal.objects.get(name="Win-back: back to paying")
    credited = Achievement.objects.filter(
        goal=win_back,
        version=win_back.current_version,
        message__campaign__name__startswith="Win-back",
    )
    assert credited.count() >= 5
    # They bought: the trial-to-paid goal counts them too, as plan_activated events.
    assert Event.objects.filter(name="plan_activated", data__via="win-back").exists()
