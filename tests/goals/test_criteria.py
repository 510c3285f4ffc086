"""goals.criteria: validation of criteria, impact, attribution settings and sources (SPEC §4).

Every rule is refused with an error keyed by the dotted path of the field at fault, and valid
input comes back in the canonical shape the engine reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from campaigns import channels, services, sources
from campaigns.errors import DomainError
from campaigns.models import Broadcast, Campaign, Segment, Workspace
from goals import criteria as rules
from goals.currencies import CURRENCIES, minor_units, money_str


def errors_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value.errors


def event(**trigger: Any) -> dict[str, Any]:
    return {"trigger": {"type": "event", "name": "signup", **trigger}}


@pytest.fixture
def segment(workspace: Workspace) -> Segment:
    return sources.segment_create(workspace=workspace, name="Trial users")


@pytest.fixture
def foreign_segment(other_workspace: Workspace) -> Segment:
    return sources.segment_create(workspace=other_workspace, name="Their segment")


# --- criteria: shape ------------------------------------------------------------------------

BAD_CRITERIA = [
    ("not an object", ["event"], "criteria", "must be an object"),
    ("no trigger", {"filters": []}, "criteria.trigger", "required"),
    ("unknown top-level key", {**event(), "goal": 1}, "criteria.goal", "unknown field"),
    ("trigger not an object", {"trigger": "event"}, "criteria.trigger", "must be an object"),
    ("trigger without type", {"trigger": {"name": "x"}}, "criteria.trigger.type", "required"),
    (
        "unknown trigger type",
        {"trigger": {"type": "custom_object"}},
        "criteria.trigger.type",
        'unknown trigger type "custom_object"; expected one of event, attribute, segment, message',
    ),
    ("event without name", {"trigger": {"type": "event"}}, "criteria.trigger.name", "required"),
    ("blank event name", event(name="  "), "criteria.trigger.name", "non-empty"),
    ("event name not text", event(name=5), "criteria.trigger.name", "non-empty"),
    ("event name too long", event(name="x" * 256), "criteria.trigger.name", "at most 255"),
    (
        "unknown key in a trigger",
        event(colour="red"),
        "criteria.trigger.colour",
        "unknown field; an event trigger takes type, name, conditions",
    ),
    (
        "segment key on an event trigger",
        event(segment=3),
        "criteria.trigger.segment",
        "unknown field",
    ),
    (
        "conditions not a list",
        event(conditions={"plan": "pro"}),
        "criteria.trigger.conditions",
        "list",
    ),
    (
        "condition not an object",
        event(conditions=["plan"]),
        "criteria.trigger.conditions.0",
        "must be an object",
    ),
    (
        "unknown key in a condition",
        event(conditions=[{"key": "plan", "op": "exists", "operator": "eq"}]),
        "criteria.trigger.conditions.0.operator",
        "unknown field; a condition takes key, op, value",
    ),
    (
        "condition without key",
        event(conditions=[{"op": "exists"}]),
        "criteria.trigger.conditions.0.key",
        "required",
    ),
    (
        "empty part in a dotted key",
        event(conditions=[{"key": "plan..tier", "op": "exists"}]),
        "criteria.trigger.conditions.0.key",
        "dotted path",
    ),
    (
        "unknown operator",
        event(conditions=[{"key": "plan", "op": "startswith", "value": "p"}]),
        "criteria.trigger.conditions.0.op",
        'unknown operator "startswith"; expected one of eq, neq, gt, gte, lt, lte, contains, '
        "exists, not_exists",
    ),
    (
        "condition without op",
        event(conditions=[{"key": "plan"}]),
        "criteria.trigger.conditions.0.op",
        "required",
    ),
    (
        "eq without value",
        event(conditions=[{"key": "plan", "op": "eq"}]),
        "criteria.trigger.conditions.0.value",
        "required for the eq operator",
    ),
    (
        "eq with a null value",
        event(conditions=[{"key": "plan", "op": "eq", "value": None}]),
        "criteria.trigger.conditions.0.value",
        "use not_exists",
    ),
    (
        "comparison with a boolean",
        event(conditions=[{"key": "total", "op": "gt", "value": True}]),
        "criteria.trigger.conditions.0.value",
        "must be a number or a string for the gt operator",
    ),
    (
        "comparison with a list",
        event(conditions=[{"key": "total", "op": "lte", "value": [1]}]),
        "criteria.trigger.conditions.0.value",
        "must be a number or a string for the lte operator",
    ),
    (
        "eq with an object",
        event(conditions=[{"key": "plan", "op": "eq", "value": {"a": 1}}]),
        "criteria.trigger.conditions.0.value",
        "must be a string, a number or a boolean",
    ),
    (
        "attribute trigger without op",
        {"trigger": {"type": "attribute", "key": "plan", "value": "pro"}},
        "criteria.trigger.op",
        "required",
    ),
    (
        "attribute trigger with a comparison on a boolean",
        {"trigger": {"type": "attribute", "key": "age", "op": "gte", "value": False}},
        "criteria.trigger.value",
        "number or a string",
    ),
    (
        "unknown key in an attribute trigger",
        {"trigger": {"type": "attribute", "key": "a", "op": "exists", "name": "x"}},
        "criteria.trigger.name",
        "unknown field; an attribute trigger takes type, key, op, value",
    ),
    (
        "segment trigger without segment",
        {"trigger": {"type": "segment"}},
        "criteria.trigger.segment",
        "must be an integer id",
    ),
    (
        "segment trigger with a non-integer segment",
        {"trigger": {"type": "segment", "segment": "seven"}},
        "criteria.trigger.segment",
        "must be an integer id",
    ),
    (
        "segment trigger with a boolean segment",
        {"trigger": {"type": "segment", "segment": True}},
        "criteria.trigger.segment",
        "must be an integer id",
    ),
    (
        "segment trigger with a segment id beyond 64 bits",
        {"trigger": {"type": "segment", "segment": 99999999999999999999}},
        "criteria.trigger.segment",
        "must be an integer id from 1 to 9223372036854775807",
    ),
    (
        "message trigger with a campaign id beyond 64 bits",
        {"trigger": {"type": "message", "metric": "sent", "campaign": 2**63}},
        "criteria.trigger.campaign",
        "must be an integer id from 1 to 9223372036854775807",
    ),
    (
        "condition value beyond the float range (JSON 1e400)",
        event(conditions=[{"key": "total", "op": "gt", "value": float("inf")}]),
        "criteria.trigger.conditions.0.value",
        "must be a finite number",
    ),
    (
        "message trigger without metric",
        {"trigger": {"type": "message"}},
        "criteria.trigger.metric",
        "required",
    ),
    (
        "message trigger with an unknown metric",
        {"trigger": {"type": "message", "metric": "read"}},
        "criteria.trigger.metric",
        'unknown metric "read"',
    ),
    (
        "message trigger with an unknown channel",
        {"trigger": {"type": "message", "metric": "sent", "channel": "fax"}},
        "criteria.trigger.channel",
        'unknown channel "fax"; expected one of email, push, whatsapp, sms, in_app, webhook, slack',
    ),
    (
        "message trigger on a metric its channel lacks",
        {"trigger": {"type": "message", "metric": "opened", "channel": "sms"}},
        "criteria.trigger.metric",
        "the sms channel has no 'opened' metric",
    ),
    (
        "message trigger with campaign and broadcast",
        {"trigger": {"type": "message", "metric": "sent", "campaign": 1, "broadcast": 2}},
        "criteria.trigger",
        "give campaign or broadcast, not both",
    ),
    (
        "filters not a list",
        {**event(), "filters": {"type": "segment"}},
        "criteria.filters",
        "must be a list",
    ),
    (
        "filter without type",
        {**event(), "filters": [{"key": "country", "op": "exists"}]},
        "criteria.filters.0.type",
        "required",
    ),
    (
        "unknown filter type",
        {**event(), "filters": [{"type": "custom_object", "id": 3}]},
        "criteria.filters.0.type",
        'unknown filter type "custom_object"; expected one of attribute, segment',
    ),
    (
        "unknown key in a filter",
        {**event(), "filters": [{"type": "segment", "segment": 1, "not": True}]},
        "criteria.filters.0.not",
        "unknown field; a segment filter takes type, segment, in",
    ),
    (
        "segment filter with a non-boolean in",
        {**event(), "filters": [{"type": "segment", "segment": 1, "in": "yes"}]},
        "criteria.filters.0.in",
        "must be true",
    ),
    (
        "attribute filter without value",
        {
            **event(),
            "filters": [
                {"type": "attribute", "key": "country", "op": "exists"},
                {"type": "attribute", "key": "country", "op": "neq"},
            ],
        },
        "criteria.filters.1.value",
        "required for the neq operator",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [case[1:] for case in BAD_CRITERIA],
    ids=[case[0] for case in BAD_CRITERIA],
)
def test_it_refuses_bad_criteria_naming_the_field(
    workspace: Workspace, data: Any, field: str, reason: str
) -> None:
    errors = errors_of(rules.criteria_clean, data, workspace=workspace)

    assert field in errors, errors
    assert any(reason in message for message in errors[field]), errors[field]


def test_it_reports_every_bad_field_at_once(workspace: Workspace) -> None:
    data = {
        "trigger": {"type": "event", "name": "", "conditions": [{"key": "a", "op": "gt"}]},
        "filters": [{"type": "segment", "segment": "x"}, {"type": "nope"}],
    }

    errors = errors_of(rules.criteria_clean, data, workspace=workspace)

    assert set(errors) == {
        "criteria.trigger.name",
        "criteria.trigger.conditions.0.value",
        "criteria.filters.0.segment",
        "criteria.filters.1.type",
    }


# --- criteria: canonical output -------------------------------------------------------------


def test_it_returns_canonical_event_criteria(workspace: Workspace) -> None:
    cleaned = rules.criteria_clean(
        {"trigger": {"type": "event", "name": "signup"}}, workspace=workspace
    )

    assert cleaned == {
        "trigger": {"type": "event", "name": "signup", "conditions": []},
        "filters": [],
    }


def test_it_keeps_valid_conditions_and_drops_values_of_valueless_operators(
    workspace: Workspace, segment: Segment
) -> None:
    data = {
        "trigger": {
            "type": "event",
            "name": "plan_activated",
            "conditions": [
                {"key": "plan.tier", "op": "eq", "value": "pro"},
                {"key": "total", "op": "gte", "value": 29.5},
                {"key": "coupon", "op": "not_exists", "value": "ignored"},
                {"key": "tags", "op": "contains", "value": "vip"},
            ],
        },
        "filters": [
            {"type": "attribute", "key": "country", "op": "eq", "value": "DE"},
            {"type": "segment", "segment": str(segment.pk)},
            {"type": "segment", "segment": segment.pk, "in": False},
        ],
    }

    cleaned = rules.criteria_clean(data, workspace=workspace)

    assert cleaned == {
        "trigger": {
            "type": "event",
            "name": "plan_activated",
            "conditions": [
                {"key": "plan.tier", "op": "eq", "value": "pro"},
                {"key": "total", "op": "gte", "value": 29.5},
                {"key": "coupon", "op": "not_exists"},
                {"key": "tags", "op": "contains", "value": "vip"},
            ],
        },
        "filters": [
            {"type": "attribute", "key": "country", "op": "eq", "value": "DE"},
            {"type": "segment", "segment": segment.pk, "in": True},
            {"type": "segment", "segment": segment.pk, "in": False},
        ],
    }


def test_it_accepts_every_operator(workspace: Workspace) -> None:
    for op in ("eq", "neq", "gt", "gte", "lt", "lte", "contains"):
        trigger = {"type": "attribute", "key": "plan", "op": op, "value": "2025-11-01"}
        assert rules.criteria_clean({"trigger": trigger}, workspace=workspace)["trigger"] == trigger
    for op in ("exists", "not_exists"):
        trigger = {"type": "attribute", "key": "plan", "op": op}
        assert rules.criteria_clean({"trigger": trigger}, workspace=workspace)["trigger"] == trigger


@pytest.mark.parametrize("metric", channels.ALL_METRICS)
def test_a_message_trigger_takes_any_metric_without_a_channel(
    workspace: Workspace, metric: str
) -> None:
    cleaned = rules.criteria_clean(
        {"trigger": {"type": "message", "metric": metric}}, workspace=workspace
    )

    assert cleaned["trigger"] == {"type": "message", "metric": metric}


def test_a_message_trigger_takes_the_channels_own_and_non_chain_metrics(
    workspace: Workspace,
) -> None:
    for channel, metric in [("sms", "clicked"), ("in_app", "opened"), ("slack", "converted")]:
        trigger = {"type": "message", "metric": metric, "channel": channel}
        assert rules.criteria_clean({"trigger": trigger}, workspace=workspace)["trigger"] == trigger
    for channel, metric in [("webhook", "delivered"), ("in_app", "delivered"), ("slack", "opened")]:
        trigger = {"type": "message", "metric": metric, "channel": channel}
        errors = errors_of(rules.criteria_clean, {"trigger": trigger}, workspace=workspace)
        assert (
            f"the {channel} channel has no '{metric}' metric"
            in errors["criteria.trigger.metric"][0]
        )


# --- criteria: references -------------------------------------------------------------------


def test_it_refuses_another_workspaces_segment(
    workspace: Workspace, segment: Segment, foreign_segment: Segment
) -> None:
    data = {
        **event(),
        "filters": [
            {"type": "segment", "segment": segment.pk},
            {"type": "segment", "segment": foreign_segment.pk},
        ],
    }

    errors = errors_of(rules.criteria_clean, data, workspace=workspace)

    assert errors == {
        "criteria.filters.1.segment": [f"no segment with id {foreign_segment.pk} in this workspace"]
    }


def test_it_refuses_a_segment_trigger_on_a_missing_segment(workspace: Workspace) -> None:
    errors = errors_of(
        rules.criteria_clean,
        {"trigger": {"type": "segment", "segment": 999999}},
        workspace=workspace,
    )

    assert errors == {"criteria.trigger.segment": ["no segment with id 999999 in this workspace"]}


def test_it_refuses_a_newly_referenced_deleted_segment(
    workspace: Workspace, segment: Segment
) -> None:
    services.source_soft_delete(source=segment)

    errors = errors_of(
        rules.criteria_clean,
        {"trigger": {"type": "segment", "segment": segment.pk}},
        workspace=workspace,
    )

    assert errors == {"criteria.trigger.segment": [f"segment {segment.pk} is deleted"]}


def test_it_keeps_a_deleted_segment_the_goal_already_referenced(
    workspace: Workspace, segment: Segment
) -> None:
    data = {"trigger": {"type": "segment", "segment": segment.pk}}
    previous = rules.criteria_clean(data, workspace=workspace)
    services.source_soft_delete(source=segment)

    cleaned = rules.criteria_clean(data, workspace=workspace, previous=previous)

    assert cleaned["trigger"] == {"type": "segment", "segment": segment.pk}


def test_a_message_trigger_must_name_a_campaign_or_broadcast_of_the_workspace(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    mine = sources.campaign_create(workspace=workspace, name="Mine")
    theirs = sources.campaign_create(workspace=other_workspace, name="Theirs")
    api_triggered = sources.broadcast_create(
        workspace=workspace, name="Receipts", kind="api_triggered"
    )

    ok = rules.criteria_clean(
        {"trigger": {"type": "message", "metric": "clicked", "campaign": mine.pk}},
        workspace=workspace,
    )
    assert ok["trigger"] == {"type": "message", "metric": "clicked", "campaign": mine.pk}
    # Any broadcast may restrict a message trigger: the source rules are for attribution.
    ok = rules.criteria_clean(
        {"trigger": {"type": "message", "metric": "sent", "broadcast": api_triggered.pk}},
        workspace=workspace,
    )
    assert ok["trigger"]["broadcast"] == api_triggered.pk

    errors = errors_of(
        rules.criteria_clean,
        {"trigger": {"type": "message", "metric": "clicked", "campaign": theirs.pk}},
        workspace=workspace,
    )
    assert errors == {
        "criteria.trigger.campaign": [f"no campaign with id {theirs.pk} in this workspace"]
    }


# --- impact ---------------------------------------------------------------------------------

BAD_IMPACT = [
    ("not an object", "EUR", "impact", "must be null or an object"),
    ("no currency", {"static": "1"}, "impact.currency", "required"),
    (
        "unknown currency",
        {"currency": "XYZ", "static": "1"},
        "impact.currency",
        'unknown currency "XYZ"',
    ),
    (
        "withdrawn currency",
        {"currency": "HRK", "static": "1"},
        "impact.currency",
        "unknown currency",
    ),
    (
        "currency without minor unit",
        {"currency": "XAU", "static": "1"},
        "impact.currency",
        "unknown",
    ),
    ("currency not text", {"currency": 978, "static": "1"}, "impact.currency", "unknown currency"),
    ("neither static nor event_key", {"currency": "EUR"}, "impact", "give either static"),
    (
        "both static and event_key",
        {"currency": "EUR", "static": "1", "event_key": "total"},
        "impact",
        "give static or event_key, not both",
    ),
    (
        "unknown key",
        {"currency": "EUR", "static": "1", "amount": 3},
        "impact.amount",
        "unknown field",
    ),
    ("negative amount", {"currency": "EUR", "static": "-1"}, "impact.static", "zero or more"),
    (
        "amount not a number",
        {"currency": "EUR", "static": "ten"},
        "impact.static",
        "decimal amount",
    ),
    ("boolean amount", {"currency": "EUR", "static": True}, "impact.static", "decimal amount"),
    # A numeric string is a decimal literal in ASCII digits, as in conditions and event-key
    # amounts (decisions.md, Operators); Python's Decimal also reads these two.
    ("grouped amount", {"currency": "EUR", "static": "1_000"}, "impact.static", "decimal amount"),
    (
        "amount in other digits",
        {"currency": "EUR", "static": "\u0661\u0662"},
        "impact.static",
        "decimal amount",
    ),
    ("NaN amount", {"currency": "EUR", "static": "NaN"}, "impact.static", "decimal amount"),
    (
        "infinite amount",
        {"currency": "EUR", "static": "Infinity"},
        "impact.static",
        "decimal amount",
    ),
    ("list amount", {"currency": "EUR", "static": [1]}, "impact.static", "decimal amount"),
    ("huge amount", {"currency": "EUR", "static": "1000000000000"}, "impact.static", "less than"),
    (
        "too many USD decimals",
        {"currency": "USD", "static": "12.345"},
        "impact.static",
        "USD amounts have at most 2 decimals",
    ),
    (
        "JPY decimals",
        {"currency": "JPY", "static": "500.5"},
        "impact.static",
        "JPY amounts have no decimals",
    ),
    (
        "too many KWD decimals",
        {"currency": "KWD", "static": "1.2345"},
        "impact.static",
        "at most 3 decimals",
    ),
    ("empty event key", {"currency": "EUR", "event_key": ""}, "impact.event_key", "non-empty"),
    (
        "bad dotted event key",
        {"currency": "EUR", "event_key": "order."},
        "impact.event_key",
        "must be an event data key or a dotted path like plan.tier (no empty parts)",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [case[1:] for case in BAD_IMPACT],
    ids=[case[0] for case in BAD_IMPACT],
)
def test_it_refuses_bad_impact_naming_the_field(data: Any, field: str, reason: str) -> None:
    errors = errors_of(rules.impact_clean, data, trigger_type="event")

    assert field in errors, errors
    assert any(reason in message for message in errors[field]), errors[field]


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("USD", "12.50", Decimal("12.50")),
        ("USD", "12.500", Decimal("12.50")),
        ("usd", 12.5, Decimal("12.50")),
        ("EUR", 0, Decimal("0.00")),
        ("JPY", "500", Decimal("500")),
        ("JPY", "500.00", Decimal("500")),
        ("KWD", "1.234", Decimal("1.234")),
        ("BHD", "0.005", Decimal("0.005")),
        ("CLF", "1.2345", Decimal("1.2345")),
        ("EUR", " 29.99 ", Decimal("29.99")),
        ("EUR", "999999999999.99", Decimal("999999999999.99")),
    ],
)
def test_it_takes_static_amounts_with_the_currencys_decimals(
    currency: str, amount: Any, expected: Decimal
) -> None:
    impact = rules.impact_clean({"currency": currency, "static": amount}, trigger_type="segment")

    assert impact == rules.Impact(currency=currency.upper(), static=expected, event_key="")
    assert str(impact.static) == str(expected)


def test_it_takes_an_event_key_for_event_triggers() -> None:
    impact = rules.impact_clean(
        {"currency": "EUR", "event_key": "order.total", "static": None}, trigger_type="event"
    )

    assert impact == rules.Impact(currency="EUR", static=None, event_key="order.total")


@pytest.mark.parametrize("trigger_type", ["attribute", "segment", "message"])
def test_it_refuses_an_event_key_for_other_triggers(trigger_type: str) -> None:
    errors = errors_of(
        rules.impact_clean, {"currency": "EUR", "event_key": "total"}, trigger_type=trigger_type
    )

    assert errors == {"impact.event_key": ["event_key is only available for event triggers"]}


def test_no_impact_is_none() -> None:
    assert rules.impact_clean(None, trigger_type="event") is None


def test_the_currency_table_has_the_iso_minor_units() -> None:
    assert minor_units("USD") == 2
    assert minor_units("EUR") == 2
    assert minor_units("JPY") == 0
    assert minor_units("KWD") == 3
    assert minor_units("BHD") == 3
    assert minor_units("CLF") == 4
    assert minor_units("UYW") == 4
    assert minor_units("XCG") == 2  # replaced ANG in 2025
    assert minor_units("ZWG") == 2
    for withdrawn in ("HRK", "ANG", "ZWL", "BGN", "XXX", "XTS"):
        assert minor_units(withdrawn) is None
    assert all(len(code) == 3 and code.isupper() for code in CURRENCIES)
    assert len(CURRENCIES) > 150


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("12.500000", "USD", "12.50"),
        ("500.000000", "JPY", "500"),
        ("0", "EUR", "0.00"),
        ("1.200000", "KWD", "1.200"),
        ("12.345000", "USD", "12.345"),
        # No currency (a goal without impact): two places, as its report states revenue.
        ("7", "", "7.00"),
        ("0.000000", "", "0.00"),
    ],
)
def test_money_is_shown_with_the_currencys_decimals(amount: str, currency: str, text: str) -> None:
    assert money_str(Decimal(amount), currency) == text


# --- attribution settings -------------------------------------------------------------------

BAD_ATTRIBUTION = [
    ("not an object", 7, "attribution", "must be an object"),
    ("unknown key", {"window": 7}, "attribution.window", "unknown field"),
    ("negative window", {"window_days": -1}, "attribution.window_days", "from 0 to 90"),
    ("window too long", {"window_days": 91}, "attribution.window_days", "from 0 to 90"),
    ("fractional window", {"window_days": 7.5}, "attribution.window_days", "whole number"),
    ("float window", {"window_days": 7.0}, "attribution.window_days", "whole number"),
    ("text window", {"window_days": "7"}, "attribution.window_days", "whole number"),
    ("boolean window", {"window_days": True}, "attribution.window_days", "whole number"),
    ("metrics not an object", {"metrics": ["sent"]}, "attribution.metrics", "must be an object"),
    (
        "unknown channel",
        {"metrics": {"fax": "sent"}},
        "attribution.metrics.fax",
        'unknown channel "fax"',
    ),
    (
        "metric the channel lacks",
        {"metrics": {"sms": "opened"}},
        "attribution.metrics.sms",
        "the sms channel has no 'opened' metric",
    ),
    (
        "in-app delivered",
        {"metrics": {"in_app": "delivered"}},
        "attribution.metrics.in_app",
        "has no 'delivered'",
    ),
    (
        "unknown metric",
        {"metrics": {"email": "read"}},
        "attribution.metrics.email",
        "unknown metric 'read'",
    ),
    (
        "non-chain metric",
        {"metrics": {"email": "converted"}},
        "attribution.metrics.email",
        '"converted" never qualifies a message',
    ),
    ("metric not text", {"metrics": {"email": 2}}, "attribution.metrics.email", "never qualifies"),
    (
        "count_machine not boolean",
        {"count_machine": "yes"},
        "attribution.count_machine",
        "true or false",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [case[1:] for case in BAD_ATTRIBUTION],
    ids=[case[0] for case in BAD_ATTRIBUTION],
)
def test_it_refuses_bad_attribution_settings_naming_the_field(
    data: Any, field: str, reason: str
) -> None:
    errors = errors_of(rules.attribution_clean, data)

    assert field in errors, errors
    assert any(reason in message for message in errors[field]), errors[field]


def test_left_out_attribution_settings_take_the_defaults() -> None:
    defaults = rules.attribution_clean(None)

    assert defaults == rules.Attribution(
        window_days=7,
        metrics={
            "email": "delivered",
            "push": "delivered",
            "whatsapp": "delivered",
            "sms": "delivered",
            "in_app": "sent",
            "webhook": "sent",
            "slack": "sent",
        },
        count_machine=True,
    )
    assert rules.attribution_clean({}) == defaults


def test_it_sets_the_given_channels_and_defaults_the_others() -> None:
    settings = rules.attribution_clean(
        {
            "window_days": 0,
            "metrics": {"sms": "clicked", "in_app": "opened"},
            "count_machine": False,
        }
    )

    assert settings.window_days == 0
    assert settings.count_machine is False
    assert settings.metrics == {
        **channels.default_attribution_metrics(),
        "sms": "clicked",
        "in_app": "opened",
    }
    assert rules.attribution_clean({"window_days": 90}).window_days == 90


# --- sources --------------------------------------------------------------------------------


@pytest.fixture
def draft(workspace: Workspace) -> Campaign:
    return sources.campaign_create(workspace=workspace, name="Launch prep", status="draft")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(workspace=workspace, name="Weekly", channels=["email"])


def test_it_resolves_campaigns_of_any_status_and_newsletters(
    workspace: Workspace, draft: Campaign, newsletter: Broadcast
) -> None:
    archived = sources.campaign_create(workspace=workspace, name="Old", status="archived")

    cleaned = rules.sources_clean(
        [
            {"type": "broadcast", "id": newsletter.pk},
            {"type": "campaign", "id": str(draft.pk)},
            {"type": "campaign", "id": archived.pk, "name": "echoed", "deleted": False},
        ],
        workspace=workspace,
    )

    assert cleaned == [newsletter, draft, archived]


def test_it_refuses_api_triggered_broadcasts(workspace: Workspace, draft: Campaign) -> None:
    receipts = sources.broadcast_create(workspace=workspace, name="Receipts", kind="api_triggered")

    errors = errors_of(
        rules.sources_clean,
        [{"type": "campaign", "id": draft.pk}, {"type": "broadcast", "id": receipts.pk}],
        workspace=workspace,
    )

    assert errors == {"sources.1.id": ["API-triggered broadcasts can't be goal sources"]}


def test_it_refuses_in_app_broadcasts(workspace: Workspace) -> None:
    banner = sources.broadcast_create(workspace=workspace, name="Banner", kind="in_app")

    errors = errors_of(
        rules.sources_clean, [{"type": "broadcast", "id": banner.pk}], workspace=workspace
    )

    assert errors == {"sources.0.id": ["only newsletter broadcasts can be goal sources"]}


def test_it_refuses_another_workspaces_sources_as_not_found(
    workspace: Workspace, other_workspace: Workspace, draft: Campaign
) -> None:
    theirs = sources.campaign_create(workspace=other_workspace, name="Theirs")
    their_newsletter = sources.broadcast_create(workspace=other_workspace, name="Their news")

    errors = errors_of(
        rules.sources_clean,
        [
            {"type": "campaign", "id": draft.pk},
            {"type": "campaign", "id": theirs.pk},
            {"type": "broadcast", "id": their_newsletter.pk},
            {"type": "broadcast", "id": 999999},
        ],
        workspace=workspace,
    )

    assert errors == {
        "sources.1.id": [f"no campaign with id {theirs.pk} in this workspace"],
        "sources.2.id": [f"no broadcast with id {their_newsletter.pk} in this workspace"],
        "sources.3.id": ["no broadcast with id 999999 in this workspace"],
    }


def test_a_deleted_source_cannot_be_added_but_stays_once_selected(
    workspace: Workspace, draft: Campaign, newsletter: Broadcast
) -> None:
    services.source_soft_delete(source=draft)
    services.source_soft_delete(source=newsletter)
    data = [{"type": "campaign", "id": draft.pk}, {"type": "broadcast", "id": newsletter.pk}]

    errors = errors_of(rules.sources_clean, data, workspace=workspace)
    assert errors == {
        "sources.0.id": [
            f"campaign {draft.pk} is deleted; deleted campaigns can't be added as sources"
        ],
        "sources.1.id": [
            f"broadcast {newsletter.pk} is deleted; deleted broadcasts can't be added as sources"
        ],
    }

    kept = rules.sources_clean(
        data,
        workspace=workspace,
        current={("campaign", draft.pk), ("broadcast", newsletter.pk)},
    )
    assert kept == [draft, newsletter]


BAD_SOURCES = [
    ("not a list", {"type": "campaign", "id": 1}, "sources", "must be a list"),
    ("item not an object", [7], "sources.0", "must be an object"),
    ("no type", [{"id": 1}], "sources.0.type", "required"),
    (
        "unknown type",
        [{"type": "segment", "id": 1}],
        "sources.0.type",
        'unknown source type "segment"',
    ),
    ("no id", [{"type": "campaign"}], "sources.0.id", "must be an integer id"),
    ("bad id", [{"type": "campaign", "id": "seven"}], "sources.0.id", "must be an integer id"),
    ("id beyond 64 bits", [{"type": "campaign", "id": 2**63}], "sources.0.id", "from 1 to"),
    (
        "unknown key",
        [{"type": "campaign", "id": 1, "weight": 2}],
        "sources.0.weight",
        "unknown field",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [case[1:] for case in BAD_SOURCES],
    ids=[case[0] for case in BAD_SOURCES],
)
def test_it_refuses_bad_source_lists_naming_the_field(
    workspace: Workspace, data: Any, field: str, reason: str
) -> None:
    errors = errors_of(rules.sources_clean, data, workspace=workspace)

    assert field in errors, errors
    assert any(reason in message for message in errors[field]), errors[field]


def test_it_refuses_duplicate_sources(workspace: Workspace, draft: Campaign) -> None:
    errors = errors_of(
        rules.sources_clean,
        [{"type": "campaign", "id": draft.pk}, {"type": "campaign", "id": str(draft.pk)}],
        workspace=workspace,
    )

    assert errors == {"sources.1": ["duplicate of sources.0"]}
