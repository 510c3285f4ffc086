"""API shapes of goals, the source picker and achievements (SPEC §7).

The goal serializer checks the plain fields (name, description, tags) and hands ``criteria``,
``impact``, ``attribution`` and ``sources`` as sent to ``goals.services``, which validates them
with ``goals.criteria`` and names every bad field by its dotted path
(``criteria.filters.1.segment``). Responses build those four from the goal's columns.
Money is a decimal string with the currency's decimals ("12.50", "500" for JPY).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from campaigns import channels, values
from campaigns.channels import CHANNEL_CHOICES
from campaigns.models import Broadcast, Campaign
from campaigns.serializers import StrictFieldsMixin, TagsField, TextField
from goals import currencies
from goals.conditions import OPERATORS
from goals.criteria import SOURCE_TYPES
from goals.filters import CANDIDATE_STATUSES
from goals.models import Achievement, Goal, GoalStatus, TriggerKind

# --- OpenAPI shapes of the JSON parts ------------------------------------------------------

_ID = {"type": "integer", "minimum": 1, "maximum": values.MAX_ID}
_SCALAR = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
_CONDITION_PROPERTIES = {
    "key": {"type": "string", "minLength": 1, "description": "A key or dotted path (`plan.tier`)."},
    "op": {"type": "string", "enum": list(OPERATORS)},
    "value": {
        **_SCALAR,
        "description": "Required except for `exists` / `not_exists`; comparisons (`gt`, "
        "`gte`, `lt`, `lte`) take a number or a string.",
    },
}
# Every object of a goal's body refuses keys it does not know (goals.criteria, goals.services),
# so the schema says so: ``additionalProperties: false`` on each.
_CONDITION = {
    "type": "object",
    "required": ["key", "op"],
    "properties": _CONDITION_PROPERTIES,
    "additionalProperties": False,
}


def _typed(kind: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *required],
        "properties": {"type": {"type": "string", "enum": [kind]}, **properties},
        "additionalProperties": False,
    }


CRITERIA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["trigger"],
    "description": "When a person achieves the goal: one trigger, plus filters that must all "
    "hold at that moment. Unknown keys are refused.",
    "properties": {
        "trigger": {
            "oneOf": [
                _typed(
                    "event",
                    {
                        "name": {"type": "string", "minLength": 1},
                        "conditions": {"type": "array", "items": _CONDITION},
                    },
                    ["name"],
                ),
                _typed("attribute", _CONDITION_PROPERTIES, ["key", "op"]),
                _typed("segment", {"segment": _ID}, ["segment"]),
                _typed(
                    "message",
                    {
                        "metric": {"type": "string", "enum": list(channels.ALL_METRICS)},
                        "channel": {"type": "string", "enum": list(channels.CHANNELS)},
                        "campaign": _ID,
                        "broadcast": _ID,
                    },
                    ["metric"],
                ),
            ]
        },
        "filters": {
            "type": "array",
            "items": {
                "oneOf": [
                    _typed("attribute", _CONDITION_PROPERTIES, ["key", "op"]),
                    _typed(
                        "segment",
                        {
                            "segment": _ID,
                            "in": {
                                "type": "boolean",
                                "default": True,
                                "description": "true: is in the segment; false: is not.",
                            },
                        },
                        ["segment"],
                    ),
                ]
            },
        },
    },
    "additionalProperties": False,
    "example": {
        "trigger": {
            "type": "event",
            "name": "plan_activated",
            "conditions": [{"key": "plan", "op": "eq", "value": "pro"}],
        },
        "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
    },
}

IMPACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "description": "null, or what one achievement is worth: a static amount or, for event "
    "triggers only, an event data key holding the amount. Exactly one of the two.",
    "required": ["currency"],
    "properties": {
        "currency": {"type": "string", "description": "An ISO 4217 code.", "example": "EUR"},
        "static": {
            "type": "string",
            "format": "decimal",
            "nullable": True,
            "description": "Zero or more, with at most the currency's decimals.",
            "example": "29.00",
        },
        "event_key": {"type": "string", "nullable": True, "example": "order.total"},
    },
    "additionalProperties": False,
}

ATTRIBUTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Keys left out take their defaults (the object is the whole setting), "
    "except in a PATCH, which merges it into the current settings: keys and channels left out "
    "keep their values, null resets one to its default.",
    "properties": {
        "window_days": {"type": "integer", "minimum": 0, "maximum": 90, "default": 7},
        "metrics": {
            "type": "object",
            "description": "The metric a message of each channel must reach to qualify "
            "(`sent`, `delivered`, `opened` or `clicked`, one its channel has). Channels left "
            "out: `delivered` where the channel has it, else `sent`.",
            "properties": {
                channel: {"type": "string", "enum": list(chain)}
                for channel, chain in channels.CHANNEL_CHAINS.items()
            },
            "additionalProperties": False,
        },
        "count_machine": {
            "type": "boolean",
            "default": True,
            "description": "Whether machine opens and clicks count.",
        },
    },
    "additionalProperties": False,
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


# What a request may send: null for a setting or a channel resets it to its default (PATCH) or
# takes the default (POST, PUT), as the description says; a goal read back never has a null.
ATTRIBUTION_REQUEST_SCHEMA: dict[str, Any] = {
    **ATTRIBUTION_SCHEMA,
    "properties": {
        "window_days": _nullable(ATTRIBUTION_SCHEMA["properties"]["window_days"]),
        "metrics": _nullable(
            {
                **ATTRIBUTION_SCHEMA["properties"]["metrics"],
                "properties": {
                    channel: _nullable(metric)
                    for channel, metric in ATTRIBUTION_SCHEMA["properties"]["metrics"][
                        "properties"
                    ].items()
                },
            }
        ),
        "count_machine": _nullable(ATTRIBUTION_SCHEMA["properties"]["count_machine"]),
    },
}

SOURCE_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {
        "type": {"type": "string", "enum": list(SOURCE_TYPES)},
        "id": _ID,
        "name": {"type": "string", "readOnly": True},
        "deleted": {"type": "boolean", "readOnly": True},
    },
    "additionalProperties": False,
}


def source_body(source: Campaign | Broadcast) -> dict[str, Any]:
    """A source as every goal endpoint shows it."""
    return {
        "type": "campaign" if isinstance(source, Campaign) else "broadcast",
        "id": source.pk,
        "name": source.name,
        "deleted": source.deleted_at is not None,
    }


# --- goals ----------------------------------------------------------------------------------


class _GoalPartField(serializers.Field):
    """A JSON part of a goal. Input passes through unchanged (``goals.services`` validates it);
    output is built from the goal's columns. ``source="*"``: the whole goal is read."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if data is empty:
            return super().run_validation(data)  # required, or skipped
        if data is None and not self.allow_null:
            # Only the impact may be null: a null list of sources or settings object read as
            # "none" or "defaults" wiped what was stored (clients send unset fields as null).
            self.fail("null")
        return {self.field_name: data}


@extend_schema_field(CRITERIA_SCHEMA)
class CriteriaField(_GoalPartField):
    def to_representation(self, goal: Goal) -> Any:
        return goal.criteria


@extend_schema_field(IMPACT_SCHEMA)
class ImpactField(_GoalPartField):
    def to_representation(self, goal: Goal) -> Any:
        if not goal.impact_currency:
            return None
        return {
            "currency": goal.impact_currency,
            "static": (
                currencies.money_str(goal.impact_static, goal.impact_currency)
                if goal.impact_static is not None
                else None
            ),
            "event_key": goal.impact_event_key or None,
        }


class AttributionField(_GoalPartField):
    """Documented by ``AttributionFieldSchema``: requests may send nulls, responses never do."""

    def to_representation(self, goal: Goal) -> Any:
        return {
            "window_days": goal.window_days,
            "metrics": {
                channel: goal.metrics.get(channel, channels.default_qualifying_metric(channel))
                for channel in channels.CHANNELS
            },
            "count_machine": goal.count_machine,
        }


class AttributionFieldSchema(OpenApiSerializerFieldExtension):
    target_class = AttributionField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        return ATTRIBUTION_REQUEST_SCHEMA if direction == "request" else ATTRIBUTION_SCHEMA


@extend_schema_field({"type": "array", "items": SOURCE_REF_SCHEMA})
class SourcesField(_GoalPartField):
    """Campaigns and newsletter broadcasts credited by the goal, by name; deleted ones stay
    listed with ``deleted: true``. Reads ``goal.sources.all()`` (prefetched by list views)."""

    def to_representation(self, goal: Goal) -> Any:
        rows = []
        for row in goal.sources.all():
            source = row.campaign or row.broadcast
            assert source is not None  # a check constraint: exactly one of the two
            rows.append(source_body(source))
        return sorted(rows, key=lambda row: (row["name"].casefold(), row["type"], row["id"]))


class GoalSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A business outcome, the people who achieve it, and the campaigns and newsletters
    credited for it (SPEC §4)."""

    name = TextField(max_length=200)
    description = TextField(required=False, allow_blank=True)
    tags = TagsField()
    criteria = CriteriaField()
    impact = ImpactField(required=False, allow_null=True)
    attribution = AttributionField(required=False)
    sources = SourcesField(required=False)
    status = serializers.ChoiceField(
        choices=GoalStatus.choices,
        read_only=True,
        help_text="`recomputing` while a change is being applied; the numbers shown are "
        "then still the previous complete result.",
    )

    class Meta:
        model = Goal
        fields = [
            "id",
            "name",
            "description",
            "tags",
            "criteria",
            "impact",
            "attribution",
            "sources",
            "status",
            "computed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "computed_at", "created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Goal:
        raise NotImplementedError("the viewset writes through goals.services")

    def update(self, instance: Goal, validated_data: dict[str, Any]) -> Goal:
        raise NotImplementedError("the viewset writes through goals.services")


# --- the source picker ----------------------------------------------------------------------


class SourceCandidateSerializer(serializers.Serializer):
    """A campaign or newsletter broadcast the goal may pick as a source."""

    type = serializers.ChoiceField(choices=[(t, t) for t in SOURCE_TYPES])
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=CANDIDATE_STATUSES,
        help_text="A campaign's (draft, running, stopped, archived) or a broadcast's "
        "(draft, sent).",
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANNEL_CHOICES),
        help_text="A broadcast's channels; [] for campaigns.",
    )
    tags = serializers.ListField(child=serializers.CharField())
    selected = serializers.BooleanField(help_text="Already one of this goal's sources.")


# --- achievements ---------------------------------------------------------------------------


class TriggerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TriggerKind.choices)
    id = serializers.IntegerField(
        help_text="The event, attribute change, segment change or message that achieved it "
        "(the server's row id)."
    )
    client_id = serializers.CharField(
        allow_null=True,
        help_text="The client's id of that event (its `id`; null where none was sent) or "
        "message (its delivery `id`), as ingested; null for attribute and segment changes.",
    )


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "type": {"type": "string", "enum": list(SOURCE_TYPES)},
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "deleted": {"type": "boolean"},
        },
    }
)
class CreditedSourceField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, achievement: Achievement) -> Any:
        source = achievement.source_campaign or achievement.source_broadcast
        return source_body(source) if source is not None else None


class AchievementSerializer(serializers.ModelSerializer):
    """One achievement of the goal's current result, with the message and source credited
    (both null when unattributed)."""

    person = serializers.SerializerMethodField(
        help_text="The person's identifier; null once the person was deleted."
    )
    revenue = serializers.SerializerMethodField(help_text="A decimal string.")
    trigger = serializers.SerializerMethodField()
    attributed = serializers.BooleanField(read_only=True)
    message = serializers.SerializerMethodField(
        help_text="The credited message's client id, or null."
    )
    # DRF's metaclass moves declared fields off the class; mypy sees ``Field.source``.
    source = CreditedSourceField()  # type: ignore[assignment]

    class Meta:
        model = Achievement
        fields = [
            "id",
            "person",
            "person_key",
            "achieved_at",
            "revenue",
            "revenue_missing",
            "trigger",
            "attributed",
            "message",
            "source",
            "touch_at",
        ]
        read_only_fields = fields

    def get_person(self, achievement: Achievement) -> str | None:
        return achievement.person.identifier if achievement.person is not None else None

    @extend_schema_field({"type": "string", "format": "decimal", "example": "29.90"})
    def get_revenue(self, achievement: Achievement) -> str:
        # The currency of the result listed (a change of it waits for its recompute).
        return currencies.money_str(achievement.revenue, self.context["goal"].report_currency)

    @extend_schema_field(TriggerSerializer)
    def get_trigger(self, achievement: Achievement) -> dict[str, Any]:
        # ``trigger_client_ids``: ``selectors.achievement_trigger_client_ids`` of the page.
        client_ids = self.context.get("trigger_client_ids", {})
        key = (achievement.trigger_kind, achievement.trigger_id)
        return {
            "kind": achievement.trigger_kind,
            "id": achievement.trigger_id,
            "client_id": client_ids.get(key),
        }

    def get_message(self, achievement: Achievement) -> str | None:
        return achievement.message.client_id if achievement.message is not None else None
