from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from campaigns import ingest_api
from campaigns.api import BroadcastViewSet, CampaignViewSet, SegmentViewSet


class OptionalSlashRouter(DefaultRouter):
    """Routes that match with and without a trailing slash (``/api/v1/campaigns`` as SPEC §7
    writes it, and ``/api/v1/campaigns/``). DRF's ``trailing_slash`` argument only takes a
    boolean, so the pattern is set after ``__init__``, as DRF's routers guide shows."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("campaigns", CampaignViewSet)
router.register("broadcasts", BroadcastViewSet)
router.register("segments", SegmentViewSet)

urlpatterns = [
    path("", include(router.urls)),
    # Ingestion (campaigns.ingest_api). Identifiers are one path segment (no "/"); people and
    # messages whose ids contain "/" can still be ingested through the batch endpoint.
    re_path(
        r"^people/(?P<identifier>[^/]+)/events/?$",
        ingest_api.PersonEventsView.as_view(),
        name="person-events",
    ),
    re_path(
        r"^people/(?P<identifier>[^/]+)/segments/?$",
        ingest_api.PersonSegmentsView.as_view(),
        name="person-segments",
    ),
    re_path(
        r"^people/(?P<identifier>[^/]+)/?$", ingest_api.PersonView.as_view(), name="person-detail"
    ),
    re_path(r"^messages/?$", ingest_api.MessagesView.as_view(), name="message-list"),
    re_path(
        r"^messages/(?P<id>[^/]+)/metrics/?$",
        ingest_api.MessageMetricsView.as_view(),
        name="message-metrics",
    ),
    re_path(
        r"^messages/(?P<id>[^/]+)/?$", ingest_api.MessageDetailView.as_view(), name="message-detail"
    ),
    re_path(r"^batch/?$", ingest_api.BatchView.as_view(), name="batch"),
]
