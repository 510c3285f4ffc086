"""API shapes of campaigns, broadcasts and segments (SPEC §7, "Messaging objects").

Serializers validate input and render output; the writes themselves are the services in
``campaigns.sources``, called by the viewsets in ``campaigns.api``.

Error messages name the allowed values, so an API client can fix its request from the 400
body alone.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from campaigns import channels
from campaigns.errors import DomainError
from campaigns.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Segment,
)
from campaigns.sources import TAG_MAX_LENGTH, tags_clean


def choice_field(field: str, choices: list[tuple[str, str]], **kwargs: Any) -> serializers.Field:
    """A choice field whose error lists the allowed values."""
    allowed = ", ".join(value for value, _ in choices)
    return serializers.ChoiceField(
        choices=choices,
        error_messages={
            "invalid_choice": f'unknown {field} "{{input}}"; expected one of {allowed}'
        },
        **kwargs,
    )


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH},
        "description": "Tag names. Blank names are refused; repeats are dropped.",
        "example": ["onboarding", "q4"],
    }
)
class TagsField(serializers.Field):
    """A list of tag names, read from and written to a taggit manager.

    Written by the service (``campaigns.sources``), so ``source``'s manager is only read here.
    Reading uses ``.all()``, which the list views fill with one prefetch query.
    """

    default_error_messages = {"not_a_list": "must be a list of tag names"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        try:
            return tags_clean(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.errors["tags"]) from None

    def to_representation(self, value: Any) -> list[str]:
        return sorted((tag.name for tag in value.all()), key=str.casefold)


class ChannelListField(serializers.ListField):
    """A list of channel names. Errors are reported on the field itself (``channels``), one
    message per unknown channel, rather than per list position."""

    child = choice_field("channel", channels.CHANNEL_CHOICES)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError("must be a list of channel names")
        unknown = [
            f'unknown channel "{item}"; expected one of {", ".join(channels.CHANNELS)}'
            for item in data
            if not isinstance(item, str) or item not in channels.CHANNEL_CHAINS
        ]
        if unknown:
            raise serializers.ValidationError(unknown)
        return list(dict.fromkeys(data))


class TextField(serializers.CharField):
    """A CharField taking text only. DRF's wrote a number as its text: ``{"name": 1e400}``
    (which JSON parsing reads as infinity) named a segment "inf". Ingestion refuses a name
    that is no string the same way."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFieldsMixin:
    """Refuse body keys the serializer does not know (read-only ones included are known, so a
    client may send back what it read): a typo such as ``stauts`` must not silently leave the
    field at its default. Ingestion refuses unknown keys the same way."""

    initial_data: Any
    fields: Any
    parent: Any

    def run_validation(self, data: Any = empty) -> Any:
        # A request body that is not an object is a 400 naming ``body``, as the ingestion
        # endpoints answer: DRF said "non_field_errors" (no field of the request).
        if self.parent is None and data is not empty and not isinstance(data, dict):
            raise serializers.ValidationError({"body": ["must be a JSON object"]})
        return super().run_validation(data)  # type: ignore[misc]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # type: ignore[misc]
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: ["unknown field; this object has no such field"] for key in unknown}
                )
        return attrs


class _SourceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    # Common to the three: ``id`` and timestamps are read-only; names are required, not blank
    # (surrounding spaces are trimmed). Subclasses' docstrings are their schema descriptions.

    name = TextField(max_length=200)

    def create(self, validated_data: dict[str, Any]) -> Model:
        raise NotImplementedError("the viewset writes through campaigns.sources")

    def update(self, instance: Model, validated_data: dict[str, Any]) -> Model:
        raise NotImplementedError("the viewset writes through campaigns.sources")


class CampaignSerializer(_SourceSerializer):
    """An automated workflow whose messages reach people one by one."""

    status = choice_field("status", CampaignStatus.choices, required=False)
    tags = TagsField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "tags", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class BroadcastSerializer(_SourceSerializer):
    """A message sent to a whole audience at once, on one or more channels."""

    kind = choice_field("kind", BroadcastKind.choices, required=False)
    status = choice_field("status", BroadcastStatus.choices, required=False)
    channels = ChannelListField(required=False, help_text="The channels the broadcast uses.")
    tags = TagsField()

    class Meta:
        model = Broadcast
        fields = ["id", "name", "kind", "status", "channels", "tags", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class SegmentSerializer(_SourceSerializer):
    """A group of people; membership changes arrive through ingestion."""

    class Meta:
        model = Segment
        fields = ["id", "name", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
