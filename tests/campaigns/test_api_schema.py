"""The OpenAPI schema and the browsable docs, which must work offline (SPEC §7)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

MESSAGING_PATHS = [
    "/api/v1/campaigns",
    "/api/v1/campaigns/{id}",
    "/api/v1/broadcasts",
    "/api/v1/broadcasts/{id}",
    "/api/v1/segments",
    "/api/v1/segments/{id}",
]
ASSET_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.fixture
def schema(client: Client, db: Any) -> dict[str, Any]:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document


def test_the_schema_is_served_as_yaml_by_default(client: Client, db: Any) -> None:
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_the_schema_writes_paths_as_the_spec_does(schema: dict[str, Any]) -> None:
    """SPEC §7 writes ``/api/v1/goals/{id}/report``; the router serves it with or without the
    trailing slash, and the schema said only ``/api/v1/goals/{id}/report/``."""
    paths = schema["paths"]
    assert "/api/v1/goals" in paths and "/api/v1/goals/{id}/report" in paths
    assert not [path for path in paths if path.endswith("/")]


def test_the_schema_lists_the_messaging_objects(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    for path in MESSAGING_PATHS:
        assert path in paths, path
    assert set(paths["/api/v1/campaigns"]) == {"get", "post"}
    assert set(paths["/api/v1/campaigns/{id}"]) == {"get", "put", "patch", "delete"}


def test_the_schema_describes_tags_statuses_and_channels(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    campaign = components["Campaign"]["properties"]
    assert campaign["tags"]["type"] == "array"
    assert campaign["tags"]["items"]["type"] == "string"
    status = components[campaign["status"]["$ref"].rsplit("/", 1)[1]]
    assert status["enum"] == ["draft", "running", "stopped", "archived"]
    channels = components["Broadcast"]["properties"]["channels"]
    channel_enum = components[channels["items"]["$ref"].rsplit("/", 1)[1]]["enum"]
    assert set(channel_enum) == {"email", "push", "whatsapp", "sms", "in_app", "webhook", "slack"}
    assert {"count", "next", "previous", "results"} <= set(
        components["PaginatedCampaignList"]["properties"]
    )


def test_the_schema_documents_filters_and_bearer_auth(schema: dict[str, Any]) -> None:
    listing = schema["paths"]["/api/v1/broadcasts"]["get"]
    parameters = {p["name"] for p in listing["parameters"]}
    assert {"kind", "status", "channel", "tag", "name", "search", "ordering"} <= parameters
    assert {"page", "page_size"} <= parameters
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A workspace API token; it acts in that workspace only.",
    }
    assert {"bearerAuth": []} in listing["security"]


def test_the_messaging_endpoints_generate_without_warnings(db: Any) -> None:
    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)

    ours = ("CampaignViewSet", "BroadcastViewSet", "SegmentViewSet", "campaigns/api.py")
    problems = [
        message
        for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        if any(name in message for name in ours)
    ]
    GENERATOR_STATS.reset()
    assert problems == []


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_their_assets_from_this_server(client: Client, db: Any, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assets = ASSET_URL.findall(html)
    assert assets, "the page references no script or stylesheet"
    external = [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert external == []
    assert "https://" not in html
    sidecar = [a for a in assets if a.startswith("/static/drf_spectacular_sidecar/")]
    assert sidecar, assets
    for asset in sidecar:
        # The file ships with the app (collectstatic finds it), so the page works offline.
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "/api/schema/" in html


def test_swagger_ui_asks_no_online_validator(client: Client, db: Any) -> None:
    # Swagger UI's default validatorUrl puts an <img> from validator.swagger.io under the
    # docs of any host but localhost: a request out of the network, and a broken badge offline.
    html = client.get("/api/docs/").content.decode()

    assert '"validatorUrl": null' in html


def test_the_batch_result_lists_every_status_an_item_gets(schema: dict[str, Any]) -> None:
    # A delete_person item is answered 204, as DELETE /people/{identifier} is.
    status = schema["components"]["schemas"]["BatchResult"]["properties"]["status"]
    for code in ("200", "201", "202", "204", "400", "404", "409"):
        assert code in status["description"], code
