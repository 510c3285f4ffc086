"""REST endpoints for the messaging objects: campaigns, broadcasts, segments (SPEC §7).

Thin viewsets: ``WorkspaceScopedMixin`` limits every query to the caller's workspace (another
workspace's id is a 404), serializers validate, ``campaigns.sources`` writes, and delete is the
soft delete of ``campaigns.services`` (the row and its messages stay; it disappears from the
API).
"""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from campaigns import schema as _schema  # noqa: F401  (registers the bearer scheme)
from campaigns import services, sources
from campaigns.filters import (
    BroadcastFilter,
    CampaignFilter,
    NameSearchFilter,
    SegmentFilter,
    StableOrderingFilter,
)
from campaigns.models import Broadcast, Campaign, Segment
from campaigns.parsers import JSONParser
from campaigns.scoping import WorkspaceScopedMixin
from campaigns.serializers import BroadcastSerializer, CampaignSerializer, SegmentSerializer

_ORDERING = "`?ordering=` one of `name`, `created_at`, `updated_at` (prefix `-` to reverse)."


def _docs(noun: str, plural: str, filters: str) -> dict[str, Any]:
    """The operation summaries shared by the three viewsets, grouped under ``plural``."""
    tags = [plural]
    return {
        "list": extend_schema(
            summary=f"List {plural}",
            description=(
                f"Live (not deleted) {plural} of the workspace, paginated. Filters: {filters}; "
                f"`?search=` matches the name; {_ORDERING} Multi-valued filters take repeats "
                "or commas and match any value."
            ),
            tags=tags,
        ),
        "create": extend_schema(summary=f"Create a {noun}", tags=tags),
        "retrieve": extend_schema(summary=f"Get a {noun}", tags=tags),
        "update": extend_schema(
            summary=f"Replace a {noun}",
            description="Optional fields left out keep their current values.",
            tags=tags,
        ),
        "partial_update": extend_schema(summary=f"Change some fields of a {noun}", tags=tags),
        "destroy": extend_schema(
            summary=f"Delete a {noun}",
            description=(
                f"Soft delete: the {noun} disappears from the API, but its history (messages, "
                "attributions, its name in reports) is kept and shown as deleted."
            ),
            tags=tags,
        ),
    }


# The mixin narrows ``request``/``queryset`` annotations that DRF's stubs type more loosely.
class _SourceViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):  # type: ignore[misc]
    filter_backends = [DjangoFilterBackend, NameSearchFilter, StableOrderingFilter]
    # JSON only: tags and channels are lists, which form encodings cannot express cleanly.
    parser_classes = [JSONParser]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def perform_destroy(self, instance: Any) -> None:
        services.source_soft_delete(source=instance)


@extend_schema_view(**_docs("campaign", "campaigns", "`status`, `tag`, `name` (contains)"))
class CampaignViewSet(_SourceViewSet):
    # Tags are prefetched: one query for a whole page, not one per campaign.
    queryset = Campaign.objects.alive().prefetch_related("tags")  # type: ignore[misc]
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = sources.campaign_create(
            workspace=self.workspace, **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Campaign)
        serializer.instance = sources.campaign_update(
            campaign=serializer.instance, **serializer.validated_data
        )


# ``campaigns.sources.broadcast_update`` refuses to turn a goal source into another kind.
_KIND_CONFLICT = {
    200: BroadcastSerializer,
    409: OpenApiResponse(
        description="`kind` would stop being `newsletter` while the broadcast is a goal's "
        "source (only newsletters can be sources)."
    ),
}


@extend_schema_view(
    update=extend_schema(responses=_KIND_CONFLICT),
    partial_update=extend_schema(responses=_KIND_CONFLICT),
)
@extend_schema_view(
    **_docs("broadcast", "broadcasts", "`kind`, `status`, `channel`, `tag`, `name` (contains)")
)
class BroadcastViewSet(_SourceViewSet):
    queryset = Broadcast.objects.alive().prefetch_related("tags")  # type: ignore[misc]
    serializer_class = BroadcastSerializer
    filterset_class = BroadcastFilter

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = sources.broadcast_create(
            workspace=self.workspace, **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Broadcast)
        serializer.instance = sources.broadcast_update(
            broadcast=serializer.instance, **serializer.validated_data
        )


@extend_schema_view(**_docs("segment", "segments", "`name` (contains)"))
class SegmentViewSet(_SourceViewSet):
    queryset = Segment.objects.alive()
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = sources.segment_create(
            workspace=self.workspace, **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Segment)
        serializer.instance = sources.segment_update(
            segment=serializer.instance, **serializer.validated_data
        )
