"""REST endpoints for ingestion (SPEC §7): people, events, segment changes, messages, metrics,
and ``POST /api/v1/batch``.

Thin views: each hands the JSON body (plus the URL's identifier) to ``campaigns.ingestion``,
which validates and stores it exactly as it would inside a batch, and serializes the stored
row. The serializers below describe bodies for the OpenAPI schema and render responses; they
do not validate ingestion input (``campaigns.ingestion`` does, for speed and so the single and
batch paths share one set of rules).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import channels, ingestion, values
from campaigns.errors import DomainError, NotFound, error_response
from campaigns.models import (
    Event,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    SegmentAction,
    SegmentMembershipChange,
)
from campaigns.parsers import JSONParser
from campaigns.scoping import WorkspaceScopedMixin

TIMESTAMP_HELP = (
    "ISO 8601 with a UTC offset (`2025-11-01T10:00:00Z`, `…+01:00`) or Unix seconds (a JSON "
    "number). A time without an offset is refused."
)


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
        "description": TIMESTAMP_HELP,
        "example": "2025-11-01T10:00:00Z",
    }
)
class TimestampField(serializers.Field):
    """Documents the API's timestamp input; parsing is ``campaigns.timestamps``."""


class ClientIdField(serializers.CharField):
    """A client id (string; an integer is read as its decimal string)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", ingestion.MAX_ID_LENGTH)
        super().__init__(**kwargs)


def _person_identifier(row: Event | Message | SegmentMembershipChange) -> str | None:
    # None once the person was deleted: their history stays, their identifier does not.
    person = row.person
    return person.identifier if person is not None else None


# --- response bodies ----------------------------------------------------------------------------


class PersonSerializer(serializers.ModelSerializer):
    email = serializers.SerializerMethodField()
    # A JSON object, always (the model's JSONField would be documented as any value).
    attributes = serializers.DictField(read_only=True)

    class Meta:
        model = Person
        fields = ["identifier", "email", "attributes", "created_at", "updated_at"]
        read_only_fields = fields

    def get_email(self, person: Person) -> str | None:
        return person.email or None


class EventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(
        source="client_id", allow_null=True, help_text="The client's event id, if it gave one."
    )
    person = serializers.SerializerMethodField(help_text="null once the person was deleted.")
    data = serializers.DictField(read_only=True)  # type: ignore[assignment]  # shadows .data

    class Meta:
        model = Event
        fields = ["id", "person", "name", "data", "timestamp", "received_at"]
        read_only_fields = fields

    def get_person(self, event: Event) -> str | None:
        return _person_identifier(event)


class SegmentChangeSerializer(serializers.ModelSerializer):
    person = serializers.SerializerMethodField()

    class Meta:
        model = SegmentMembershipChange
        fields = ["person", "segment", "action", "timestamp", "received_at"]
        read_only_fields = fields

    def get_person(self, change: SegmentMembershipChange) -> str | None:
        return _person_identifier(change)


class MetricSerializer(serializers.ModelSerializer):
    message = serializers.CharField(source="message.client_id")
    pending = serializers.SerializerMethodField(
        help_text="false: stored on its message (201, 200)."
    )

    class Meta:
        model = MessageMetric
        fields = ["message", "metric", "timestamp", "machine", "pending"]
        read_only_fields = fields

    def get_pending(self, metric: MessageMetric) -> bool:
        return False


class PendingMetricSerializer(serializers.ModelSerializer):
    message = serializers.CharField(source="message_client_id")
    pending = serializers.SerializerMethodField(
        help_text="true: no message with this id is stored yet (202); the metric is kept and "
        "stored when the message arrives."
    )

    class Meta:
        model = PendingMetric
        fields = ["message", "metric", "timestamp", "machine", "pending"]
        read_only_fields = fields

    def get_pending(self, metric: PendingMetric) -> bool:
        return True


class MessageMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageMetric
        fields = ["metric", "timestamp", "machine", "received_at"]
        read_only_fields = fields


class ReachedSerializer(serializers.Serializer):
    """When the message first reached each step of its channel's chain (or a later step); null
    for a step not reached yet, and for one its channel does not have (a clicked webhook
    message reached `sent` and `clicked`, never `delivered` or `opened`)."""

    # The derived columns are filled for every step, since a later metric proves the earlier
    # ones; only the channel's own steps are ever read as reached (SPEC §3's table).

    sent = serializers.DateTimeField(source="reached_sent_at", allow_null=True)
    delivered = serializers.DateTimeField(source="reached_delivered_at", allow_null=True)
    opened = serializers.DateTimeField(source="reached_opened_at", allow_null=True)
    opened_human = serializers.DateTimeField(
        source="reached_opened_human_at",
        allow_null=True,
        help_text="Ignoring machine opens and clicks.",
    )
    clicked = serializers.DateTimeField(source="reached_clicked_at", allow_null=True)
    clicked_human = serializers.DateTimeField(
        source="reached_clicked_human_at",
        allow_null=True,
        help_text="Ignoring machine clicks.",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        reached = super().to_representation(instance)
        chain = channels.CHANNEL_CHAINS.get(instance.channel, channels.CHAIN)
        for step in reached:
            if step.removesuffix("_human") not in chain:
                reached[step] = None
        return dict(reached)


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="client_id", help_text="The client's delivery id.")
    person = serializers.SerializerMethodField(
        help_text="null for anonymous messages and once the person was deleted."
    )
    reached = ReachedSerializer(source="*", read_only=True)
    metrics = MessageMetricSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "person",
            "channel",
            "campaign",
            "broadcast",
            "anonymous",
            "sent_at",
            "received_at",
            "reached",
            "metrics",
        ]
        read_only_fields = fields

    def get_person(self, message: Message) -> str | None:
        return _person_identifier(message)


# --- request bodies (documentation) -------------------------------------------------------------


class PersonBodySerializer(serializers.Serializer):
    email = serializers.EmailField(
        required=False, allow_null=True, allow_blank=True, help_text='null or "" clears the email.'
    )
    attributes = serializers.DictField(
        required=False,
        help_text="Merged into the stored attributes (shallowly); a null value removes a key.",
    )
    timestamp = TimestampField(
        required=False,
        help_text="When the change happened (dates the attribute history; default: now).",
    )


class EventBodySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    # The API's field names shadow Serializer.data / .errors; these serializers only document.
    data = serializers.DictField(required=False)  # type: ignore[assignment]
    timestamp = TimestampField(required=False, help_text="Default: when it was received.")
    id = ClientIdField(
        required=False, help_text="The client's event id: the same id twice is stored once."
    )


class SegmentBodySerializer(serializers.Serializer):
    segment = serializers.IntegerField(
        min_value=1, max_value=values.MAX_ID, help_text="A live segment of the workspace."
    )
    action = serializers.ChoiceField(choices=SegmentAction.choices)
    timestamp = TimestampField(required=False, help_text="Default: when it was received.")


class MessageBodySerializer(serializers.Serializer):
    id = ClientIdField(help_text="The client's delivery id (unique in the workspace).")
    person = ClientIdField(
        required=False, help_text="The person's identifier; omitted for anonymous messages."
    )
    channel = serializers.ChoiceField(choices=channels.CHANNEL_CHOICES)
    campaign = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=values.MAX_ID,
        help_text="A campaign id (deleted ones too).",
    )
    broadcast = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=values.MAX_ID,
        help_text="A broadcast id (deleted ones too).",
    )
    anonymous = serializers.BooleanField(
        required=False, default=False, help_text="In-app only, and then without a person."
    )
    sent_at = TimestampField()


class MetricBodySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=channels.METRIC_CHOICES)
    timestamp = TimestampField()
    machine = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Opened/clicked only: a privacy prefetch or link scanner, not a person.",
    )


def _item(kind: str, body: type[serializers.Serializer], path_field: str | None) -> type:
    """A batch item: ``type`` plus the body, with the URL's identifier as a field."""
    attrs: dict[str, Any] = {
        "type": serializers.ChoiceField(choices=[kind]),
        **{name: field for name, field in body().get_fields().items()},
    }
    if path_field is not None:
        attrs[path_field] = ClientIdField()
    name = "".join(part.capitalize() for part in kind.split("_")) + "BatchItemSerializer"
    return type(name, (serializers.Serializer,), attrs)


class DeletePersonBodySerializer(serializers.Serializer):
    pass


BATCH_ITEMS = PolymorphicProxySerializer(
    component_name="BatchItem",
    resource_type_field_name="type",
    serializers={
        ingestion.PERSON: _item(ingestion.PERSON, PersonBodySerializer, "person"),
        ingestion.EVENT: _item(ingestion.EVENT, EventBodySerializer, "person"),
        ingestion.SEGMENT: _item(ingestion.SEGMENT, SegmentBodySerializer, "person"),
        ingestion.MESSAGE: _item(ingestion.MESSAGE, MessageBodySerializer, None),
        ingestion.METRIC: _item(ingestion.METRIC, MetricBodySerializer, "message"),
        ingestion.DELETE_PERSON: _item(
            ingestion.DELETE_PERSON, DeletePersonBodySerializer, "person"
        ),
    },
    many=False,
)


class BatchBodySerializer(serializers.Serializer):
    items = serializers.ListField(
        child=BATCH_ITEMS,
        max_length=ingestion.BATCH_LIMIT,
        help_text=f"Up to {ingestion.BATCH_LIMIT} items, each answered with its own status.",
    )


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `items`.")
    status = serializers.IntegerField(
        help_text="201, 200, 202, 204 (a delete_person item), 400, 404 or 409, as the item's "
        "own endpoint would answer."
    )
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Reasons by field name, when the item was refused.",
    )
    id = serializers.CharField(
        required=False,
        help_text="The client's name for the stored object: a person's identifier, an event's "
        "or a message's id.",
    )


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()


# Error bodies come from ``campaigns.schema.AutoSchema``; these only describe the cases.
ERRORS_400 = OpenApiResponse(
    description='Invalid input: `{"errors": {"<field>": ["<reason>"]}}`, each bad field of '
    "the body named with its reasons."
)
NOT_FOUND = OpenApiResponse(description="Not in this workspace.")
IDENTIFIER = OpenApiParameter(
    "identifier",
    str,
    OpenApiParameter.PATH,
    description="The person's identifier (the client's customer id).",
)
MESSAGE_ID = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The client's delivery id of the message."
)


# --- views --------------------------------------------------------------------------------------


def _answer(result: ingestion.ItemResult, serializer: type[serializers.BaseSerializer]) -> Response:
    if not result.ok:
        return error_response(result.errors or {}, result.status)
    return Response(serializer(result.obj).data, status=result.status)


class _IngestView(WorkspaceScopedMixin, APIView):  # type: ignore[misc]
    # JSON only: attributes and data are nested objects, which form encodings cannot express.
    parser_classes = [JSONParser]


def _refuse_nul(name: str, value: str) -> None:
    """A path id holding U+0000 is a 400 naming it, as the writes to the same URL answer:
    PostgreSQL refuses the character even in a lookup (a 500 there)."""
    if "\x00" in value:
        raise DomainError({name: [values.NUL_ERROR]})


class PersonView(_IngestView):
    queryset = Person.objects.all()

    @extend_schema(
        tags=["people"],
        summary="Get a person",
        parameters=[IDENTIFIER],
        responses={200: PersonSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, identifier: str) -> Response:
        _refuse_nul("person", identifier)
        person = self.get_queryset().filter(identifier=identifier).first()
        if person is None:
            raise NotFound({"person": [f'no person with identifier "{identifier}"']})
        return Response(PersonSerializer(person).data)

    @extend_schema(
        tags=["people"],
        summary="Create or update a person",
        description=(
            "Creates the person (201) or updates it (200). `attributes` are merged into the "
            "stored ones, key by key; a `null` value removes a key. When the attribute set "
            "changes, a snapshot is kept at `timestamp` for attribute goals."
        ),
        parameters=[IDENTIFIER],
        request=PersonBodySerializer,
        responses={200: PersonSerializer, 201: PersonSerializer, 400: ERRORS_400},
    )
    def put(self, request: Request, identifier: str) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace,
            kind=ingestion.PERSON,
            body=request.data,
            path={"person": identifier},
        )
        return _answer(result, PersonSerializer)

    @extend_schema(
        tags=["people"],
        summary="Delete a person's data",
        description=(
            "Removes the person, their email, attributes and attribute history. Their events, "
            "messages and achievements stay, under an anonymous person key."
        ),
        parameters=[IDENTIFIER],
        request=None,
        responses={204: None, 404: NOT_FOUND},
    )
    def delete(self, request: Request, identifier: str) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace,
            kind=ingestion.DELETE_PERSON,
            body={},
            path={"person": identifier},
        )
        if not result.ok:
            return error_response(result.errors or {}, result.status)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonEventsView(_IngestView):
    queryset = Event.objects.all()

    @extend_schema(
        tags=["people"],
        summary="Record an event",
        description=(
            "201 when stored; 200 when an event with this `id` was already stored (it is "
            "stored once; the stored event is returned); 409 when another person's event has "
            "this `id`. An unknown person is created."
        ),
        parameters=[IDENTIFIER],
        request=EventBodySerializer,
        responses={
            200: EventSerializer,
            201: EventSerializer,
            400: ERRORS_400,
            409: OpenApiResponse(description="Another person's event with this id is stored."),
        },
    )
    def post(self, request: Request, identifier: str) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace,
            kind=ingestion.EVENT,
            body=request.data,
            path={"person": identifier},
        )
        return _answer(result, EventSerializer)


class PersonSegmentsView(_IngestView):
    queryset = SegmentMembershipChange.objects.all()

    @extend_schema(
        tags=["people"],
        summary="Record a segment entry or exit",
        description="An unknown person is created. The segment must be live (not deleted).",
        parameters=[IDENTIFIER],
        request=SegmentBodySerializer,
        responses={201: SegmentChangeSerializer, 400: ERRORS_400},
    )
    def post(self, request: Request, identifier: str) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace,
            kind=ingestion.SEGMENT,
            body=request.data,
            path={"person": identifier},
        )
        return _answer(result, SegmentChangeSerializer)


def _message_with_metrics(workspace_id: int, client_id: str) -> Message | None:
    # Metrics by time (then arrival), not in whatever order the database keeps them.
    by_time = MessageMetric.objects.order_by("timestamp", "id")
    return (
        Message.objects.in_workspace(workspace_id)
        .filter(client_id=client_id)
        .select_related("person")
        .prefetch_related(Prefetch("metrics", queryset=by_time))
        .first()
    )


class MessagesView(_IngestView):
    queryset = Message.objects.all()

    @extend_schema(
        tags=["messages"],
        summary="Record a message",
        description=(
            "201 when stored. The same `id` again with the same content answers 200 with the "
            "stored message; with different content, 409. A deleted campaign or broadcast is "
            "still accepted as the source (late deliveries keep its history). An unknown "
            "person is created. `reached` is filled in by background processing."
        ),
        request=MessageBodySerializer,
        responses={
            200: MessageSerializer,
            201: MessageSerializer,
            400: ERRORS_400,
            409: OpenApiResponse(description="A different message with this id is stored."),
        },
    )
    def post(self, request: Request) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace, kind=ingestion.MESSAGE, body=request.data
        )
        if result.ok:
            # Re-read: with tasks run in-process the reached times are already known.
            result.obj = _message_with_metrics(self.workspace.pk, result.obj.client_id)
        return _answer(result, MessageSerializer)


class MessageDetailView(_IngestView):
    queryset = Message.objects.all()

    @extend_schema(
        tags=["messages"],
        summary="Get a message",
        description="The message with its raw metrics and the times it reached each step.",
        parameters=[MESSAGE_ID],
        responses={200: MessageSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, id: str) -> Response:
        _refuse_nul("message", id)
        message = _message_with_metrics(self.workspace.pk, id)
        if message is None:
            raise NotFound({"message": [f'no message with id "{id}"']})
        return Response(MessageSerializer(message).data)


class MessageMetricsView(_IngestView):
    queryset = MessageMetric.objects.all()

    @extend_schema(
        tags=["messages"],
        summary="Record a message metric",
        description=(
            "201 when stored; 200 when the same metric, timestamp and machine flag were "
            "already stored. A metric the message's channel does not have is refused (400). "
            "When no message with this id is stored yet, the metric is kept (202, "
            '`"pending": true`) and stored when the message arrives; if the message\'s channel '
            "turns out not to have that metric, it is dropped then."
        ),
        parameters=[MESSAGE_ID],
        request=MetricBodySerializer,
        responses={
            200: MetricSerializer,
            201: MetricSerializer,
            202: PendingMetricSerializer,
            400: ERRORS_400,
        },
    )
    def post(self, request: Request, id: str) -> Response:
        result = ingestion.ingest_one(
            workspace=self.workspace, kind=ingestion.METRIC, body=request.data, path={"message": id}
        )
        if isinstance(result.obj, PendingMetric):
            return _answer(result, PendingMetricSerializer)
        return _answer(result, MetricSerializer)


class BatchView(_IngestView):
    queryset = Event.objects.none()

    @extend_schema(
        tags=["batch"],
        summary="Ingest up to 1,000 items",
        description=(
            'Each item is `{"type": "person" | "event" | "segment" | "message" | '
            '"metric" | "delete_person", ...}` with the fields of its own endpoint; the '
            "URL's identifier becomes a field (`person` for person, event, segment and "
            "delete_person items; `message` for metric items). Every item is answered by index "
            "with the status its own endpoint would give; one bad item never stops the others. "
            "Items are applied by type in this order, in item order within a type: person, "
            "event, segment, message, metric, delete_person; items naming a person after "
            "that person's delete_person are applied after it (a new person, as one request "
            "at a time would make). The endpoints' plurals (`people`, "
            "`events`, `segments`, `messages`, `metrics`) and `segment_change`, "
            "`message_metric`, `person_delete` are read as these types, and `identifier` as "
            "`person`."
        ),
        request=BatchBodySerializer,
        responses={200: BatchResponseSerializer, 400: ERRORS_400},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise DomainError({"body": ['must be a JSON object: {"items": [...]}']})
        if "items" not in request.data:
            raise DomainError({"items": [ingestion.REQUIRED]})
        # Unknown keys are refused here as in every other body (docs/decisions.md): a typo
        # beside ``items`` must not pass unnoticed.
        unknown = sorted(set(request.data) - {"items"})
        if unknown:
            raise DomainError({key: ["unknown field; the body has only items"] for key in unknown})
        outcome = ingestion.ingest(workspace=self.workspace, items=request.data["items"])
        return Response(outcome.as_dict())
