"""Demo and benchmark data: one realistic workspace, generated deterministically.

``seed_demo`` builds a workspace whose people sign up, go through onboarding, start trials and
buy plans (events with ``data.price``), change attributes and segments, and receive messages
from every kind of source (running, stopped, archived, draft and deleted campaigns; sent and
draft newsletters; API-triggered and in-app broadcasts; transactional mail; anonymous in-app
messages) with per-channel metric funnels that follow ``campaigns.channels``.

Design notes:
- Deterministic: every random choice comes from one ``random.Random(seed)`` consumed in a fixed
  order, and every timestamp is an offset from the window start, so the same seed and window
  length give the same rows (ids and the instants they are anchored to differ between runs).
- Bounded memory: people are planned and written in chunks of ``CHUNK_PEOPLE``.
- Fast: the large tables (events, messages, metrics, attribute and segment history) are written
  without model instances, through ``RowInserter`` (``COPY`` on PostgreSQL, ``executemany`` on
  SQLite). ``bulk_create`` spends ~35 µs per row in Django's field preparation, which at the
  ~7 million rows of ``--people 100000`` is minutes on its own; ``COPY`` is ~1-2 µs.
- Messages' ``reached_*`` columns are computed while generating, by ``reach`` below, which
  mirrors ``services.message_reach_refresh`` (a test checks they agree).
- All or nothing: the whole seed runs in one transaction, so an interrupted run leaves no
  half-built demo workspace behind, and "a workspace with this name exists" reliably means
  "already seeded".
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from campaigns import channels, services, sources
from campaigns.bulk import RowInserter
from campaigns.errors import DomainError
from campaigns.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Event,
    Membership,
    Message,
    MessageMetric,
    Person,
    PersonAttributeChange,
    Role,
    Segment,
    SegmentAction,
    SegmentMembershipChange,
    Workspace,
)

_ABSENT = object()
DEFAULT_WORKSPACE_NAME = "Demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
DEMO_TIME_ZONE = "Europe/Berlin"
#: People planned and written per round trip; ~16 messages and ~45 metrics each.
CHUNK_PEOPLE = 2000
#: Person keys are uuid5(namespace, "<workspace id>:<identifier>"): deterministic and still
#: unique across workspaces (the column is globally unique).
KEY_NAMESPACE = uuid.UUID("6f1c2a52-8f0e-4d7a-9a43-2f4b7d0c9e11")

MINUTE = 60
HOUR = 3600
DAY = 86400

Progress = Callable[[str], None]


# --- writing rows without model instances --------------------------------------------------


# --- reach: the same derivation as services.message_reach_refresh ---------------------------

REACH_FIELDS = (
    "reached_sent_at",
    "reached_delivered_at",
    "reached_opened_at",
    "reached_opened_human_at",
    "reached_clicked_at",
    "reached_clicked_human_at",
)


def reach(sent_at: int, metrics: Iterable[tuple[str, int, bool]]) -> tuple[int | None, ...]:
    """The ``reached_*`` values (in ``REACH_FIELDS`` order) of a message from its metrics.

    Works on any ordered time values (offsets here). Same rule as
    ``services.message_reach_refresh``: a step is reached at the first metric of it or a later
    step; the ``*_human`` variants ignore machine opens/clicks; sent is never after ``sent_at``.
    """
    first: dict[tuple[str, bool], int] = {}
    for metric, at, machine in metrics:
        if metric not in channels.LEVEL:
            continue
        for step in channels.CHAIN[: channels.LEVEL[metric] + 1]:
            for human_only in (False, True):
                if human_only and machine:
                    continue
                key = (step, human_only)
                if key not in first or at < first[key]:
                    first[key] = at
    sent = first.get((channels.SENT, False))
    return (
        sent_at if sent is None else min(sent, sent_at),
        first.get((channels.DELIVERED, False)),
        first.get((channels.OPENED, False)),
        first.get((channels.OPENED, True)),
        first.get((channels.CLICKED, False)),
        first.get((channels.CLICKED, True)),
    )


# --- metric funnels per channel ---------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    """How a channel's messages progress. Shares are of the previous step's survivors."""

    delivered: float = 1.0  # channels with a delivered step
    failures: tuple[str, ...] = ("failed",)  # recorded for messages that are not delivered
    machine_open: float = 0.0  # of delivered: privacy prefetch "opens"
    opened: float = 0.0  # of delivered (channels with an opened step)
    reopen: float = 0.0  # of human openers
    clicked: float = 0.0  # of human openers, or of delivered where there is no opened step
    machine_click: float = 0.0  # of delivered: link scanners
    unsubscribed: float = 0.0  # of human openers (or of delivered)
    spammed: float = 0.0
    converted: float = 0.1  # of human clickers
    open_delay: float = 6 * HOUR  # mean delay of the first human open


FUNNELS: dict[str, Funnel] = {
    "email": Funnel(
        delivered=0.95,
        failures=("bounced", "bounced", "dropped"),
        machine_open=0.3,
        opened=0.5,
        reopen=0.4,
        clicked=0.3,
        machine_click=0.05,
        unsubscribed=0.02,
        spammed=0.003,
    ),
    "push": Funnel(delivered=0.9, opened=0.3, reopen=0.1, clicked=0.35, open_delay=2 * HOUR),
    "whatsapp": Funnel(delivered=0.97, opened=0.8, reopen=0.2, clicked=0.2, open_delay=HOUR),
    "sms": Funnel(delivered=0.96, failures=("failed", "dropped"), clicked=0.08, unsubscribed=0.01),
    "in_app": Funnel(delivered=0.99, opened=0.7, reopen=0.25, clicked=0.25, open_delay=20),
    "webhook": Funnel(delivered=0.97, clicked=0.1),
    "slack": Funnel(delivered=0.99, clicked=0.3),
}
assert set(FUNNELS) == set(channels.CHANNELS), "every channel needs a funnel"


def funnel_metrics(
    rng: random.Random, channel: str, sent: int, horizon: int
) -> list[tuple[str, int, bool]]:
    """Metric rows ``(metric, at, machine)`` of one message sent at offset ``sent``.

    Only metrics of the channel (``channels.metric_error`` is None for each); nothing after
    ``horizon`` (it has not happened yet). About 5% of messages have no ``sent`` metric and 5%
    of human clicks arrive without their open, as real feeds do: reaching a step still implies
    the earlier ones.
    """
    f = FUNNELS[channel]
    chain = channels.CHANNEL_CHAINS[channel]
    out: list[tuple[str, int, bool]] = []

    def add(metric: str, at: int, machine: bool = False) -> None:
        if at <= horizon:
            out.append((metric, at, machine))

    if rng.random() < 0.95:
        add(channels.SENT, sent)
    if rng.random() >= f.delivered:
        add(rng.choice(f.failures), sent + rng.randint(1, 5 * MINUTE))
        return out
    at = sent
    if channels.DELIVERED in chain:
        at = sent + rng.randint(1, 2 * MINUTE)
        add(channels.DELIVERED, at)
    if f.machine_open and rng.random() < f.machine_open:
        add(channels.OPENED, at + rng.randint(1, 30), True)
    if f.machine_click and rng.random() < f.machine_click:
        add(channels.CLICKED, at + rng.randint(1, 20), True)
    human_at: int | None = None
    if channels.OPENED in chain:
        if rng.random() < f.opened:
            human_at = at + 1 + int(rng.expovariate(1 / f.open_delay))
            clicked = rng.random() < f.clicked
            if not clicked or rng.random() >= 0.05:
                add(channels.OPENED, human_at)
            if rng.random() < f.reopen:
                add(channels.OPENED, human_at + rng.randint(10 * MINUTE, 2 * DAY))
        else:
            clicked = False
    else:
        clicked = rng.random() < f.clicked
        human_at = at + 1 + int(rng.expovariate(1 / (30 * MINUTE)))
    if clicked and human_at is not None:
        click_at = human_at + rng.randint(3, 15 * MINUTE)
        add(channels.CLICKED, click_at)
        if rng.random() < f.converted:
            add("converted", click_at + rng.randint(MINUTE, 2 * HOUR))
    if human_at is not None and f.unsubscribed and rng.random() < f.unsubscribed:
        add("unsubscribed", human_at + rng.randint(5, 10 * MINUTE))
    if f.spammed and rng.random() < f.spammed:
        add("spammed", at + rng.randint(MINUTE, DAY))
    return out


# --- the plan: what happens to each person, as offsets from the window start ---------------


@dataclass
class MessagePlan:
    channel: str
    source: str | None  # a key of Seeder.sources; None for transactional messages
    sent: int
    metrics: list[tuple[str, int, bool]]
    anonymous: bool = False


@dataclass
class PersonPlan:
    identifier: str
    email: str
    signup: int
    snapshots: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any], int, bool]] = field(default_factory=list)
    segment_changes: list[tuple[str, str, int]] = field(default_factory=list)
    messages: list[MessagePlan] = field(default_factory=list)


FIRST_NAMES = (
    "anna", "ben", "clara", "david", "emma", "felix", "greta", "hannah", "jonas", "lea",
    "lukas", "mia", "noah", "olivia", "paul", "sofia", "tom", "zoe", "liam", "nina",
)  # fmt: skip
LAST_NAMES = (
    "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker",
    "smith", "jones", "brown", "martin", "bernard", "dubois", "janssen", "rossi", "garcia",
)  # fmt: skip
COUNTRIES = ("DE", "AT", "CH", "US", "GB", "FR", "NL", "ES", "IT")
COUNTRY_WEIGHTS = (30, 8, 7, 20, 12, 8, 6, 5, 4)
LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "US": "en", "GB": "en", "FR": "fr"}
LANGUAGES |= {"NL": "nl", "ES": "es", "IT": "it"}
ONBOARDING_STEPS = ("profile", "connect_data", "invite_team", "first_report", "set_goal")
PLAN_PRICES = {"pro": 29, "team": 79}


@dataclass(frozen=True)
class SourceSpec:
    key: str
    kind: str  # "campaign" or "broadcast"
    name: str
    status: str
    tags: tuple[str, ...]
    broadcast_kind: str = ""
    channels: tuple[str, ...] = ()
    deleted: bool = False


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("welcome", "campaign", "Onboarding - welcome emails", CampaignStatus.RUNNING,
               ("onboarding", "lifecycle")),
    SourceSpec("onboarding_v1", "campaign", "Onboarding v1 (emails)", CampaignStatus.STOPPED,
               ("onboarding",), deleted=True),
    SourceSpec("push_nudges", "campaign", "Onboarding - push nudges", CampaignStatus.RUNNING,
               ("onboarding", "mobile")),
    SourceSpec("in_app_tips", "campaign", "Onboarding - in-app tips", CampaignStatus.RUNNING,
               ("onboarding", "product")),
    SourceSpec("trial_whatsapp", "campaign", "Trial conversion - WhatsApp",
               CampaignStatus.RUNNING, ("conversion", "trial")),
    SourceSpec("winback", "campaign", "Win-back - inactive 14 days", CampaignStatus.RUNNING,
               ("win-back", "lifecycle")),
    SourceSpec("winback_sms_old", "campaign", "Win-back - SMS last call",
               CampaignStatus.STOPPED, ("win-back",)),
    SourceSpec("autumn_sale", "campaign", "Autumn sale", CampaignStatus.ARCHIVED,
               ("promo", "seasonal")),
    SourceSpec("sales_slack", "campaign", "Sales alert - team trials (Slack)",
               CampaignStatus.RUNNING, ("sales", "internal")),
    SourceSpec("crm_webhook", "campaign", "CRM sync on purchase (webhook)",
               CampaignStatus.RUNNING, ("internal",)),
    SourceSpec("referral", "campaign", "Referral programme", CampaignStatus.DRAFT,
               ("referral", "lifecycle")),
    SourceSpec("price_notice", "broadcast", "Price update notice", BroadcastStatus.SENT,
               ("billing",), BroadcastKind.API_TRIGGERED, ("email", "push")),
    SourceSpec("dashboard_launch", "broadcast", "New dashboard announcement",
               BroadcastStatus.SENT, ("product",), BroadcastKind.IN_APP, ("in_app",)),
    SourceSpec("newsletter_draft", "broadcast", "Product newsletter - next issue",
               BroadcastStatus.DRAFT, ("newsletter",), BroadcastKind.NEWSLETTER, ("email",)),
)  # fmt: skip
SEGMENTS = {
    "trial": "Trial users",
    "paying": "Paying customers",
    "subscribers": "Newsletter subscribers",
    "churn_risk": "Churn risk",
    "beta": "Beta testers (old)",  # soft-deleted
}


class Planner:
    """Decides, from one random stream, everything that happens in the window.

    Times are integer seconds from the window start; nothing is planned after ``horizon``
    (the window's end, i.e. now).
    """

    def __init__(self, rng: random.Random, horizon: int, tz: Any, start: datetime) -> None:
        self.rng = rng
        self.horizon = horizon
        self.tz = tz
        self.start = start
        # Weekly newsletters, the first two days into the window.
        self.newsletters = [
            (f"newsletter_{n + 1}", at) for n, at in enumerate(range(2 * DAY, horizon, 7 * DAY))
        ]
        self.autumn_sale_at = int(horizon * 0.1)
        self.price_notice_at = int(horizon * 0.6)
        self.dashboard_launch_at = int(horizon * 0.5)
        self.winback_sms_until = int(horizon * 0.35)
        self.onboarding_v1_until = int(horizon * 0.2)

    def local_date(self, at: int) -> str:
        return (self.start + timedelta(seconds=at)).astimezone(self.tz).date().isoformat()

    def person(self, number: int) -> PersonPlan:
        rng, horizon = self.rng, self.horizon
        signup = rng.randint(0, int(horizon * 0.98))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        plan = PersonPlan(
            identifier=f"cus_{number:07d}",
            email=f"{first}.{last}.{number}@example.com",
            signup=signup,
        )
        country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        subscribed = rng.random() < 0.7
        app_user = rng.random() < 0.5
        # Attribute changes are collected first and folded in time order at the end: the
        # history holds the full attribute set after each change that altered it.
        changes: list[tuple[int, int, dict[str, Any]]] = []

        def change(at: int, **values: Any) -> None:
            if at <= horizon:
                changes.append((at, len(changes), values))

        def event(name: str, at: int, data: dict[str, Any]) -> None:
            if at <= horizon:
                # Two events in three carry a client id (idempotent ingestion), as SDKs do.
                plan.events.append((name, data, at, rng.random() < 0.67))

        def segment(key: str, action: str, at: int) -> None:
            if at <= horizon:
                plan.segment_changes.append((key, action, at))

        def message(channel: str, source: str | None, at: int) -> MessagePlan | None:
            if at > horizon:
                return None
            planned = MessagePlan(channel, source, at, funnel_metrics(rng, channel, at, horizon))
            plan.messages.append(planned)
            return planned

        change(
            signup,
            country=country,
            language=LANGUAGES[country],
            plan="free",
            signup_date=self.local_date(signup),
            newsletter=subscribed,
            lifecycle_stage="new",
        )
        event("signed_up", signup, {"source": rng.choice(("organic", "ads", "referral"))})
        if subscribed:
            segment("subscribers", SegmentAction.ENTER, signup)
        if rng.random() < 0.02:
            segment("beta", SegmentAction.ENTER, signup + HOUR)

        # Onboarding: five steps, each reached by 80% of those who did the previous one.
        at = signup
        completed_at: int | None = None
        for step, step_name in enumerate(ONBOARDING_STEPS, start=1):
            if rng.random() >= 0.8:
                break
            at += 5 * MINUTE + int(rng.expovariate(1 / (10 * HOUR)))
            event("onboarding_step_completed", at, {"step": step, "step_name": step_name})
        else:
            completed_at = at + rng.randint(5, 120)
            event("onboarding_completed", completed_at, {"steps": len(ONBOARDING_STEPS)})
            change(completed_at, lifecycle_stage="activated")

        # Sessions: the rest of the event volume, and the moments in-app messages show.
        sessions = sorted(
            signup + int(rng.expovariate(1 / (4 * DAY))) for _ in range(rng.randint(1, 5))
        )
        for session_at in sessions:
            event(
                "session_started", session_at, {"platform": rng.choice(("web", "ios", "android"))}
            )

        # Trial and purchase.
        trial_at: int | None = None
        activated_at: int | None = None
        plan_name = "pro" if rng.random() < 0.75 else "team"
        if rng.random() < (0.6 if completed_at is not None else 0.3):
            trial_at = signup + HOUR + int(rng.expovariate(1 / (2 * DAY)))
            event("trial_started", trial_at, {"plan": plan_name})
            change(trial_at, plan="trial")
            segment("trial", SegmentAction.ENTER, trial_at)
            if rng.random() < 0.45:
                activated_at = trial_at + rng.randint(DAY, 16 * DAY)
                price = self.price(plan_name)
                data: dict[str, Any] = {"plan": plan_name, "currency": "EUR"}
                if price is not None:
                    data["price"] = price
                event("plan_activated", activated_at, data)
                change(activated_at, plan=plan_name, lifecycle_stage="customer")
                segment("trial", SegmentAction.LEAVE, activated_at)
                segment("paying", SegmentAction.ENTER, activated_at)
            else:
                segment("trial", SegmentAction.LEAVE, trial_at + 14 * DAY)
                change(trial_at + 14 * DAY, plan="free")
        if trial_at is None and rng.random() < 0.5:
            risk_at = signup + 10 * DAY
            segment("churn_risk", SegmentAction.ENTER, risk_at)
            if rng.random() < 0.3:
                segment("churn_risk", SegmentAction.LEAVE, risk_at + rng.randint(2 * DAY, 9 * DAY))

        # Messages.
        message("email", None, signup + 10)  # transactional: verify your email address
        if signup < self.onboarding_v1_until:
            for delay in (HOUR, 2 * DAY):
                message("email", "onboarding_v1", signup + delay)
        else:
            for n, delay in enumerate((5 * MINUTE, DAY, 3 * DAY, 5 * DAY, 7 * DAY)):
                if n == 0 or completed_at is None or signup + delay < completed_at:
                    message("email", "welcome", signup + delay)
        if app_user:
            for delay in (2 * DAY, 4 * DAY, 6 * DAY):
                if completed_at is None or signup + delay < completed_at:
                    message("push", "push_nudges", signup + delay)
        for session_at in sessions[:3]:
            message("in_app", "in_app_tips", session_at + 10)
        later = [s for s in sessions if s >= self.dashboard_launch_at]
        if later and rng.random() < 0.8:
            message("in_app", "dashboard_launch", later[0] + 5)
        if trial_at is not None:
            for delay in (7 * DAY, 12 * DAY):
                if activated_at is None or trial_at + delay < activated_at:
                    message("whatsapp", "trial_whatsapp", trial_at + delay)
            if plan_name == "team":
                message("slack", "sales_slack", trial_at + MINUTE)
        if activated_at is not None:
            message("webhook", "crm_webhook", activated_at + 30)
            message("email", None, activated_at + 40)  # transactional: receipt
        if rng.random() < 0.1:
            message("email", None, signup + rng.randint(HOUR, 20 * DAY))  # password reset
        if trial_at is None:
            # Win-back: two weeks after signing up without a trial. Some come back and buy a
            # few hours to days after one of its messages (and get no more of them), so the
            # "back to paying" goal has the campaign's own results to show.
            back_after = rng.randrange(3) if rng.random() < 0.18 else None
            for n, (channel, delay) in enumerate((("email", 14), ("sms", 16), ("email", 21))):
                message(channel, "winback", signup + delay * DAY)
                if n == back_after:
                    bought_at = signup + delay * DAY + rng.randint(2 * HOUR, 3 * DAY)
                    bought = "pro" if rng.random() < 0.85 else "team"
                    data = {"plan": bought, "currency": "EUR", "via": "win-back"}
                    price = self.price(bought)
                    if price is not None:
                        data["price"] = price
                    event("plan_activated", bought_at, data)
                    change(bought_at, plan=bought, lifecycle_stage="customer")
                    segment("paying", SegmentAction.ENTER, bought_at)
                    message("webhook", "crm_webhook", bought_at + 30)
                    message("email", None, bought_at + 40)  # transactional: receipt
                    break
            if signup + 20 * DAY < self.winback_sms_until:
                message("sms", "winback_sms_old", signup + 20 * DAY)
        if signup < self.autumn_sale_at and rng.random() < 0.5:
            message("email", "autumn_sale", self.autumn_sale_at + rng.randint(0, 2 * HOUR))
            if app_user:
                message("push", "autumn_sale", self.autumn_sale_at + DAY)
        if signup < self.price_notice_at and rng.random() < 0.3:
            message("email", "price_notice", self.price_notice_at + rng.randint(0, HOUR))
            if app_user:
                message("push", "price_notice", self.price_notice_at + rng.randint(0, HOUR))

        # Newsletters go to subscribers until they unsubscribe (from any email).
        unsubscribed_at = min(
            (at for m in plan.messages for (name, at, _) in m.metrics if name == "unsubscribed"),
            default=None,
        )
        if subscribed:
            for key, send_at in self.newsletters:
                if send_at <= signup or (unsubscribed_at is not None and unsubscribed_at < send_at):
                    continue
                if rng.random() < 0.95:
                    sent = message("email", key, send_at + rng.randint(0, 30 * MINUTE))
                    for name, at, _ in sent.metrics if sent else ():
                        if name == "unsubscribed" and unsubscribed_at is None:
                            unsubscribed_at = at
            if unsubscribed_at is not None:
                segment("subscribers", SegmentAction.LEAVE, unsubscribed_at)
                change(unsubscribed_at, newsletter=False)

        current: dict[str, Any] = {}
        for at, _, values in sorted(changes, key=lambda c: (c[0], c[1])):
            updated = current | values
            if updated != current:
                plan.snapshots.append((at, updated))
                current = updated
        return plan

    def price(self, plan_name: str) -> Any:
        """``data.price``: mostly a number, sometimes a numeric string, a few times missing."""
        base = PLAN_PRICES[plan_name]
        roll = self.rng.random()
        if roll < 0.05:
            return None
        if roll < 0.15:
            return f"{base:.2f}"
        if roll < 0.3:
            return round(base * 0.8, 2)  # a discounted first month
        return base

    def anonymous_message(self) -> MessagePlan:
        """An in-app message shown to a visitor who is not identified (never counts)."""
        rng = self.rng
        source = "dashboard_launch" if rng.random() < 0.7 else "in_app_tips"
        low = self.dashboard_launch_at if source == "dashboard_launch" else 0
        sent = rng.randint(low, self.horizon)
        metrics = funnel_metrics(rng, "in_app", sent, self.horizon)
        return MessagePlan("in_app", source, sent, metrics, anonymous=True)


# --- the seed -----------------------------------------------------------------------------


@dataclass
class SeedResult:
    workspace: Workspace
    created: bool
    user_created: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    start: datetime | None = None
    end: datetime | None = None


def _window(days: int, now: datetime) -> tuple[datetime, datetime]:
    """``days`` up to now, cut so that nothing precedes the tracking start (SPEC §4.1)."""
    tracking_start: datetime = settings.GOALS_TRACKING_START
    end = now.replace(microsecond=0)
    if end <= tracking_start + timedelta(hours=1):
        raise DomainError(
            {"days": [f"GOALS_TRACKING_START ({tracking_start.isoformat()}) is not in the past"]}
        )
    return max(end - timedelta(days=days), tracking_start), end


def seed_demo(
    *,
    people: int = 2000,
    days: int = 60,
    seed: int = 1,
    workspace_name: str = DEFAULT_WORKSPACE_NAME,
    progress: Progress | None = None,
) -> SeedResult:
    """Build the demo workspace ``workspace_name``, or return it untouched if it exists.

    Idempotent by name: a second run finds the workspace and changes nothing (``created`` is
    False). To rebuild, use another name or a fresh database.
    """
    if people < 1:
        raise DomainError({"people": ["must be at least 1"]})
    if days < 1:
        raise DomainError({"days": ["must be at least 1"]})
    existing = Workspace.objects.filter(name=workspace_name).order_by("pk").first()
    if existing is not None:
        return SeedResult(workspace=existing, created=False)
    say = progress or (lambda message: None)
    began = time.monotonic()
    start, end = _window(days, timezone.now())
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check foreign keys per statement: deferred to commit, PostgreSQL would queue
            # millions of pending checks in memory.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        workspace = services.workspace_create(name=workspace_name, time_zone=DEMO_TIME_ZONE)
        Workspace.objects.filter(pk=workspace.pk).update(created_at=start)
        user_created = _demo_user(workspace)
        seeder = _Seeder(workspace, random.Random(seed), start, end, say)
        seeder.run(people)
    if connection.vendor == "postgresql":
        # Fresh statistics: until autovacuum gets to the new millions of rows, the planner
        # would pick sequential scans for indexed lookups (the admin's searches, reports).
        say("  analysing tables…")
        with connection.cursor() as cursor:
            for model in LOADED_MODELS:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    counts = workspace_counts(workspace)
    return SeedResult(
        workspace=workspace,
        created=True,
        user_created=user_created,
        counts=counts,
        seconds=time.monotonic() - began,
        start=start,
        end=end,
    )


LOADED_MODELS: tuple[type[models.Model], ...] = (
    Person,
    PersonAttributeChange,
    Event,
    SegmentMembershipChange,
    Message,
    MessageMetric,
)


def _demo_user(workspace: Workspace) -> bool:
    """Make ``demo`` a staff admin of the workspace; returns whether the user was created."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"email": "demo@example.com", "is_staff": True}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    elif not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    return created


def demo_login(workspace: Workspace) -> str:
    """How to log in to an existing demo ``workspace`` (empty when ``demo`` is not a member)."""
    user = (
        get_user_model()
        .objects.filter(username=DEMO_USERNAME, memberships__workspace=workspace)
        .first()
    )
    if user is None:
        return ""
    password = (
        f"with password {DEMO_PASSWORD!r}"
        if user.check_password(DEMO_PASSWORD)
        else "(its password was changed since the seed)"
    )
    return f"Log in at /goals/ (the admin is at /admin/) as {DEMO_USERNAME!r} {password}."


def workspace_counts(workspace: Workspace) -> dict[str, int]:
    """Rows per kind in ``workspace`` (what the seed reports at the end)."""
    ws = workspace.pk
    return {
        "people": Person.objects.in_workspace(ws).count(),
        "attribute changes": PersonAttributeChange.objects.in_workspace(ws).count(),
        "events": Event.objects.in_workspace(ws).count(),
        "segments": Segment.objects.in_workspace(ws).count(),
        "segment changes": SegmentMembershipChange.objects.in_workspace(ws).count(),
        "campaigns": Campaign.objects.in_workspace(ws).count(),
        "broadcasts": Broadcast.objects.in_workspace(ws).count(),
        "messages": Message.objects.in_workspace(ws).count(),
        "message metrics": MessageMetric.objects.in_workspace(ws).count(),
    }


class _Seeder:
    """Writes the planner's output: sources first, then people chunk by chunk."""

    def __init__(
        self,
        workspace: Workspace,
        rng: random.Random,
        start: datetime,
        end: datetime,
        say: Progress,
    ) -> None:
        self.workspace = workspace
        self.start = start
        self.horizon = int((end - start).total_seconds())
        self.planner = Planner(rng, self.horizon, workspace.tz, start)
        self.say = say
        self.now = timezone.now()
        self.message_number = 0
        self.event_number = 0
        self.written: dict[str, int] = {"messages": 0, "metrics": 0, "events": 0}
        self.sources: dict[str, tuple[str, int]] = {}  # key -> ("campaign"|"broadcast", id)
        self.segments: dict[str, int] = {}
        self.people_rows = RowInserter(
            Person, ["workspace", "identifier", "email", "attributes", "key", "created_at",
                     "updated_at"]
        )  # fmt: skip
        self.attribute_rows = RowInserter(
            PersonAttributeChange,
            [
                "workspace",
                "person",
                "person_key",
                "timestamp",
                "attributes",
                "patch",
                "received_at",
            ],
        )
        self.event_rows = RowInserter(
            Event,
            ["workspace", "person", "person_key", "name", "data", "timestamp", "client_id",
             "received_at"],
        )  # fmt: skip
        self.segment_rows = RowInserter(
            SegmentMembershipChange,
            ["workspace", "segment", "person", "person_key", "action", "timestamp",
             "received_at"],
        )  # fmt: skip
        self.message_rows = RowInserter(
            Message,
            ["workspace", "client_id", "person", "person_key", "channel", "campaign",
             "broadcast", "anonymous", "sent_at", "received_at", *REACH_FIELDS],
        )  # fmt: skip
        self.metric_rows = RowInserter(
            MessageMetric, ["workspace", "message", "metric", "timestamp", "machine", "received_at"]
        )

    def at(self, offset: int) -> datetime:
        return self.start + timedelta(seconds=offset)

    def run(self, people: int) -> None:
        self.create_sources()
        began = time.monotonic()
        for first in range(1, people + 1, CHUNK_PEOPLE):
            numbers = range(first, min(first + CHUNK_PEOPLE, people + 1))
            plans = [self.planner.person(n) for n in numbers]
            anonymous = [self.planner.anonymous_message() for _ in range(len(plans) * 3 // 10)]
            self.write_chunk(plans, anonymous)
            self.say(
                f"  people {numbers[-1]:,}/{people:,} · events {self.written['events']:,} · "
                f"messages {self.written['messages']:,} · metrics {self.written['metrics']:,} "
                f"· {time.monotonic() - began:.0f}s"
            )

    def create_sources(self) -> None:
        """Campaigns, broadcasts (one newsletter per week of the window) and segments."""
        ws = self.workspace
        ids: dict[str, tuple[str, int]] = {}
        specs = list(SOURCES) + [
            SourceSpec(
                key,
                "broadcast",
                f"Product newsletter #{n}",
                BroadcastStatus.SENT,
                ("newsletter", "product"),
                BroadcastKind.NEWSLETTER,
                ("email",),
            )
            for n, (key, _) in enumerate(self.planner.newsletters, start=1)
        ]
        for spec in specs:
            source: Campaign | Broadcast
            if spec.kind == "campaign":
                source = sources.campaign_create(
                    workspace=ws, name=spec.name, status=spec.status, tags=spec.tags
                )
            else:
                source = sources.broadcast_create(
                    workspace=ws,
                    name=spec.name,
                    kind=spec.broadcast_kind,
                    status=spec.status,
                    channels=spec.channels,
                    tags=spec.tags,
                )
            if spec.deleted:
                services.source_soft_delete(source=source)
            ids[spec.key] = (spec.kind, source.pk)
        self.sources = ids
        for key, name in SEGMENTS.items():
            segment = sources.segment_create(workspace=ws, name=name)
            if key == "beta":
                services.source_soft_delete(source=segment)
            self.segments[key] = segment.pk
        for model in (Campaign, Broadcast, Segment):
            model.objects.in_workspace(ws).update(created_at=self.start, updated_at=self.start)

    def write_chunk(self, plans: list[PersonPlan], anonymous: list[MessagePlan]) -> None:
        ws, now, at = self.workspace.pk, self.now, self.at
        keys = [uuid.uuid5(KEY_NAMESPACE, f"{ws}:{p.identifier}") for p in plans]
        before = self._last_pk(Person)
        self.people_rows.insert(
            (
                ws,
                p.identifier,
                p.email,
                p.snapshots[-1][1],
                key,
                at(p.signup),
                at(p.snapshots[-1][0]),
            )
            for p, key in zip(plans, keys, strict=True)
        )
        person_ids = dict(
            Person.objects.filter(workspace_id=ws, pk__gt=before).values_list("identifier", "pk")
        )
        attribute_rows = []
        event_rows = []
        segment_rows = []
        message_plans: list[tuple[MessagePlan, int | None, uuid.UUID | None]] = []
        for plan, key in zip(plans, keys, strict=True):
            pid = person_ids[plan.identifier]
            previous: dict[str, Any] = {}
            for ts, attributes in plan.snapshots:
                # What ingestion stores: the snapshot, and the patch that led to it.
                patch = {k: v for k, v in attributes.items() if previous.get(k, _ABSENT) != v}
                patch.update({k: None for k in previous if k not in attributes})
                attribute_rows.append((ws, pid, key, at(ts), attributes, patch, now))
                previous = attributes
            for name, data, ts, with_id in plan.events:
                self.event_number += 1
                client_id = f"evt_{self.event_number:09d}" if with_id else None
                event_rows.append((ws, pid, key, name, data, at(ts), client_id, now))
            for segment_key, action, ts in plan.segment_changes:
                segment_rows.append((ws, self.segments[segment_key], pid, key, action, at(ts), now))
            message_plans.extend((m, pid, key) for m in plan.messages)
        message_plans.extend((m, None, None) for m in anonymous)
        self.attribute_rows.insert(attribute_rows)
        self.written["events"] += self.event_rows.insert(event_rows)
        self.segment_rows.insert(segment_rows)

        message_rows = []
        client_ids = []
        for m, person_id, person_key in message_plans:
            self.message_number += 1
            client_id = f"msg_{self.message_number:09d}"
            client_ids.append(client_id)
            kind, source_id = self.sources[m.source] if m.source else ("", None)
            reached = [None if r is None else at(r) for r in reach(m.sent, m.metrics)]
            message_rows.append(
                (
                    ws,
                    client_id,
                    person_id,
                    person_key,
                    m.channel,
                    source_id if kind == "campaign" else None,
                    source_id if kind == "broadcast" else None,
                    m.anonymous,
                    at(m.sent),
                    now,
                    *reached,
                )
            )
        before = self._last_pk(Message)
        self.written["messages"] += self.message_rows.insert(message_rows)
        message_ids = dict(
            Message.objects.filter(workspace_id=ws, pk__gt=before).values_list("client_id", "pk")
        )
        self.written["metrics"] += self.metric_rows.insert(
            (ws, message_ids[client_id], metric, at(ts), machine, now)
            for (m, _, _), client_id in zip(message_plans, client_ids, strict=True)
            for metric, ts, machine in m.metrics
        )

    def _last_pk(self, model: type[models.Model]) -> int:
        """The highest id of ``model`` in this workspace: rows above it are the next insert's.

        Only this transaction writes to the new workspace, so that is exact.
        """
        last = (
            model._default_manager.filter(workspace_id=self.workspace.pk)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        return last or 0
