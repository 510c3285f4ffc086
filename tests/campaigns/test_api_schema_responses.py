"""Real responses match the OpenAPI schema (SPEC §7): every operation documents the errors it
can answer, each with the body the server sends, and response bodies list every field they
always carry as required."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from campaigns import sources
from campaigns.auth import WorkspaceBurstThrottle
from campaigns.models import Broadcast, Campaign, Workspace
from goals import services as goal_services
from goals.models import Goal

ERROR_COMPONENTS = {
    "400": "ValidationError",
    "401": "Error",
    "403": "Error",
    "404": "NotFoundError",
    "406": "Error",
    "409": "ConflictError",
    "429": "Error",
}


@functools.cache
def openapi() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema (``jsonschema`` does not know it)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_documented(template: str, method: str, response: Any) -> None:
    """``response`` has a status the operation documents, and a JSON body its schema allows."""
    operation = openapi()["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} does not document {status}"
    assert response["Content-Type"] == "application/json"
    body_schema = operation["responses"][status]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**_json_schema(body_schema), "components": _json_schema(openapi()["components"])}
    )
    problems = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
    ]
    assert problems == [], (method, template, status, response.json())


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return sources.campaign_create(workspace=workspace, name="Onboarding", tags=["q4"])


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(
        workspace=workspace, name="News", kind="newsletter", channels=["email"]
    )


@pytest.fixture
def goal(workspace: Workspace, newsletter: Broadcast) -> Goal:
    return goal_services.goal_create(
        workspace=workspace,
        name="Trial to paid",
        criteria={"trigger": {"type": "event", "name": "plan_activated"}},
        sources=[{"type": "broadcast", "id": newsletter.pk}],
    )


# --- the schema ---------------------------------------------------------------------------


def test_every_operation_documents_its_errors_with_named_bodies() -> None:
    for template, operations in openapi()["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "403", "404", "406", "429"} <= set(responses), (method, template)
            for status, response in responses.items():
                if status not in ERROR_COMPONENTS:
                    continue
                schema = response["content"]["application/json"]["schema"]
                ref = f"#/components/schemas/{ERROR_COMPONENTS[status]}"
                assert schema == {"$ref": ref}, (method, template, status)
                assert response["description"], (method, template, status)


def test_conflicts_are_documented_where_the_code_raises_them() -> None:
    paths = openapi()["paths"]
    with_409 = {
        (method, template)
        for template, operations in paths.items()
        for method, operation in operations.items()
        if "409" in operation["responses"]
    }

    # Writes of tags too: a new tag's row may clash with other requests' (campaigns.sources).
    tag_writes = {
        (method, f"/api/v1/{kind}{path}")
        for kind in ("campaigns", "broadcasts", "goals")
        for method, path in [("post", ""), ("put", "/{id}"), ("patch", "/{id}")]
    }
    assert with_409 == {
        *tag_writes,
        ("post", "/api/v1/messages"),
        ("post", "/api/v1/people/{identifier}/events"),
    }
    # A view's own description is kept; the body is added.
    messages = paths["/api/v1/messages"]["post"]["responses"]["409"]
    assert messages["description"] == "A different message with this id is stored."


def test_the_error_bodies_are_named_components() -> None:
    components = openapi()["components"]["schemas"]
    errors_map = {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }

    assert components["ValidationError"]["required"] == ["errors"]
    assert components["ValidationError"]["properties"]["errors"].items() >= errors_map.items()
    assert components["Error"]["required"] == ["detail"]
    assert components["NotFoundError"]["required"] == ["detail"]
    assert set(components["NotFoundError"]["properties"]) == {"detail", "errors"}
    assert components["ConflictError"]["required"] == ["detail", "errors"]


def test_throttled_and_unauthenticated_answers_document_their_headers() -> None:
    responses = openapi()["paths"]["/api/v1/campaigns"]["get"]["responses"]

    assert set(responses["429"]["headers"]) == {"Retry-After"}
    assert set(responses["401"]["headers"]) == {"WWW-Authenticate"}


@pytest.mark.parametrize(
    ("component", "nullable"),
    [
        ("Goal", {"impact", "computed_at"}),
        ("Campaign", set()),
        ("Broadcast", set()),
        ("Segment", set()),
        ("PaginatedGoalList", {"next", "previous"}),
    ],
)
def test_responses_require_every_field_the_server_always_sends(
    component: str, nullable: set[str]
) -> None:
    schema = openapi()["components"]["schemas"][component]

    assert sorted(schema["required"]) == sorted(schema["properties"])
    assert {
        name for name, field in schema["properties"].items() if field.get("nullable")
    } == nullable


def test_requests_still_leave_optional_fields_out() -> None:
    components = openapi()["components"]["schemas"]

    assert components["CampaignRequest"]["required"] == ["name"]
    assert components["BroadcastRequest"]["required"] == ["name"]
    assert sorted(components["GoalRequest"]["required"]) == ["criteria", "name"]
    assert "required" not in components["PatchedGoalRequest"]
    # A batch result's errors and id are only sent when they apply.
    assert sorted(components["BatchResult"]["required"]) == ["index", "status"]


def test_the_schema_generates_without_warnings(tmp_path: Path, db: Any) -> None:
    # What `manage.py spectacular --validate --fail-on-warn` checks (it exits on a warning).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))

    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3.")


# --- real responses ------------------------------------------------------------------------


def test_bodies_of_goals_campaigns_and_broadcasts_match(
    api: APIClient, campaign: Campaign, newsletter: Broadcast, goal: Goal
) -> None:
    for template, url in [
        ("/api/v1/campaigns/{id}", f"/api/v1/campaigns/{campaign.pk}"),
        ("/api/v1/broadcasts/{id}", f"/api/v1/broadcasts/{newsletter.pk}"),
        ("/api/v1/goals/{id}", f"/api/v1/goals/{goal.pk}"),
        ("/api/v1/goals", "/api/v1/goals"),
    ]:
        response = api.get(url)
        assert response.status_code == 200
        assert_documented(template, "GET", response)
    assert api.get(f"/api/v1/goals/{goal.pk}").json()["impact"] is None


def test_a_bad_create_is_a_documented_400(api: APIClient) -> None:
    response = api.post("/api/v1/campaigns", {"name": "", "status": "paused"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "status"}
    assert_documented("/api/v1/campaigns", "POST", response)


def test_a_bad_filter_is_a_documented_400(api: APIClient) -> None:
    response = api.get("/api/v1/broadcasts", {"page": "0"})

    assert response.status_code == 400
    assert_documented("/api/v1/broadcasts", "GET", response)


def test_a_missing_object_is_a_documented_404(api: APIClient, other_workspace: Workspace) -> None:
    theirs = sources.campaign_create(workspace=other_workspace, name="Globex")

    for template, url in [
        ("/api/v1/campaigns/{id}", f"/api/v1/campaigns/{theirs.pk}"),  # {"detail"}
        ("/api/v1/people/{identifier}", "/api/v1/people/nobody"),  # {"detail", "errors"}
        ("/api/v1/messages/{id}", "/api/v1/messages/nothing"),
    ]:
        response = api.get(url)
        assert response.status_code == 404
        assert_documented(template, "GET", response)


def test_conflicts_are_documented_409s(api: APIClient, newsletter: Broadcast, goal: Goal) -> None:
    kind = api.patch(f"/api/v1/broadcasts/{newsletter.pk}", {"kind": "api_triggered"})
    message = {"id": "m1", "person": "ada", "channel": "email", "sent_at": 1767600000}
    assert api.post("/api/v1/messages", message, format="json").status_code == 201
    repeat = api.post("/api/v1/messages", {**message, "channel": "sms"}, format="json")

    assert (kind.status_code, repeat.status_code) == (409, 409)
    assert list(kind.json()["errors"]) == ["kind"]
    assert_documented("/api/v1/broadcasts/{id}", "PATCH", kind)
    assert_documented("/api/v1/messages", "POST", repeat)


def test_missing_credentials_are_a_documented_401(db: Any) -> None:
    response = APIClient().get("/api/v1/goals")

    assert response.status_code == 401
    assert_documented("/api/v1/goals", "GET", response)


def test_a_viewers_write_is_a_documented_403(viewer_api: APIClient, goal: Goal) -> None:
    response = viewer_api.patch(f"/api/v1/goals/{goal.pk}", {"name": "Renamed"}, format="json")

    assert response.status_code == 403
    assert_documented("/api/v1/goals/{id}", "PATCH", response)


def test_report_errors_are_documented_json_even_as_csv(
    api: APIClient, other_api: APIClient, goal: Goal
) -> None:
    bad = api.get(f"/api/v1/goals/{goal.pk}/report", {"start": "someday", "format": "csv"})
    theirs = other_api.get(f"/api/v1/goals/{goal.pk}/report", {"format": "csv"})

    assert (bad.status_code, theirs.status_code) == (400, 404)
    assert_documented("/api/v1/goals/{id}/report", "GET", bad)
    assert_documented("/api/v1/goals/{id}/report", "GET", theirs)


def test_an_unknown_format_is_a_documented_400(api: APIClient, campaign: Campaign) -> None:
    response = api.delete(f"/api/v1/campaigns/{campaign.pk}?format=xml")

    assert response.status_code == 400
    assert_documented("/api/v1/campaigns/{id}", "DELETE", response)


def test_an_accept_header_refusing_every_format_is_a_documented_406(
    api: APIClient, campaign: Campaign, goal: Goal
) -> None:
    # SPEC §7 names the errors; the negotiation (campaigns.negotiation) also answers 406 to an
    # Accept header that refuses what an operation renders, on every operation, before auth.
    for method, template, url in [
        ("GET", "/api/v1/campaigns", "/api/v1/campaigns"),
        ("DELETE", "/api/v1/campaigns/{id}", f"/api/v1/campaigns/{campaign.pk}"),
        ("GET", "/api/v1/goals/{id}/report", f"/api/v1/goals/{goal.pk}/report"),
        ("POST", "/api/v1/batch", "/api/v1/batch"),
    ]:
        response = api.generic(
            method, url, '{"items": []}', "application/json", HTTP_ACCEPT="application/xml"
        )
        assert response.status_code == 406, (method, url)
        assert_documented(template, method, response)
    assert Campaign.objects.filter(pk=campaign.pk, deleted_at=None).exists()


@pytest.fixture
def burst_of_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # As in test_api_errors_and_throttling: throttles read ``rate`` from the class per request.
    monkeypatch.setattr(WorkspaceBurstThrottle, "rate", "2/minute", raising=False)
    yield


@pytest.mark.usefixtures("burst_of_two")
def test_throttling_is_a_documented_429(
    make_token_client: Callable[..., APIClient], workspace: Workspace
) -> None:
    client = make_token_client(workspace)
    responses = [client.get("/api/v1/segments") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert_documented("/api/v1/segments", "GET", responses[-1])
