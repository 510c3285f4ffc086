"""The OpenAPI schema describes what the server does, as a generated client sees it (SPEC §7).

Every operation of the schema is called through the test client with real data, and every
answer, success or error, has a status the operation documents and a body its schema allows.
Request bodies the schema (or its own descriptions) promises are accepted, are.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import jsonschema
import pytest
from django.db import IntegrityError
from rest_framework.test import APIClient
from taggit.models import Tag

from campaigns import channels
from campaigns.models import Workspace
from tests.campaigns.test_api_schema_responses import _json_schema, assert_documented, openapi


def request_problems(template: str, method: str, body: Any) -> list[str]:
    """Where ``body`` breaks the operation's documented request body (empty: it conforms)."""
    operation = openapi()["paths"][template][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**_json_schema(schema), "components": _json_schema(openapi()["components"])},
        # ``format: email`` tells "" from an address (drf-spectacular's oneOf for a blank one).
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


# --- request bodies: what the docs say is accepted, the schema allows --------------------------


def test_an_empty_email_clears_it_as_documented(api: APIClient) -> None:
    # PersonBody's `email`: 'null or "" clears the email.' The schema said minLength 1.
    template = "/api/v1/people/{identifier}"
    api.put("/api/v1/people/ada", {"email": "ada@example.org"}, format="json")

    assert request_problems(template, "PUT", {"email": ""}) == []
    response = api.put("/api/v1/people/ada", {"email": ""}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] is None
    batch = {"items": [{"type": "person", "person": "ada", "email": ""}]}
    assert request_problems("/api/v1/batch", "POST", batch) == []


def test_a_null_attribution_setting_resets_it_as_documented(
    api: APIClient, workspace: Workspace
) -> None:
    # "null resets one to its default": the schema typed each setting as not nullable.
    created = api.post(
        "/api/v1/goals",
        {
            "name": "Paid",
            "criteria": {"trigger": {"type": "event", "name": "paid"}},
            "attribution": {"window_days": 3, "metrics": {"email": "opened"}},
        },
        format="json",
    )
    assert created.status_code == 201
    reset = {
        "attribution": {"window_days": None, "metrics": {"email": None}, "count_machine": None}
    }

    assert request_problems("/api/v1/goals/{id}", "PATCH", reset) == []
    response = api.patch(f"/api/v1/goals/{created.json()['id']}", reset, format="json")
    assert response.status_code == 200
    attribution = response.json()["attribution"]
    assert (attribution["window_days"], attribution["metrics"]["email"]) == (7, "delivered")
    assert attribution["count_machine"] is True
    assert_documented("/api/v1/goals/{id}", "PATCH", response)
    # A goal as read back is never null there: the response keeps the plain types.
    window = openapi()["components"]["schemas"]["Goal"]["properties"]["attribution"]
    assert "nullable" not in window["properties"]["window_days"]


def test_a_batch_documents_its_limit_of_1000_items(api: APIClient) -> None:
    # SPEC §7: "up to 1,000 items"; the server refuses more, the schema allowed any number.
    item = {"type": "event", "person": "ada", "name": "paid"}
    too_many = {"items": [item] * 1001}

    assert request_problems("/api/v1/batch", "POST", {"items": [item] * 1000}) == []
    assert request_problems("/api/v1/batch", "POST", too_many) != []
    response = api.post("/api/v1/batch", too_many, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["items"]


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "event", "name": ""},
        {"type": "event", "name": "paid", "conditions": [{"key": "", "op": "exists"}]},
        {"type": "attribute", "key": "", "op": "exists"},
    ],
)
def test_a_blank_event_name_or_key_is_refused_by_the_schema_as_by_the_server(
    api: APIClient, trigger: dict[str, Any]
) -> None:
    body = {"name": "G", "criteria": {"trigger": trigger}}

    assert request_problems("/api/v1/goals", "POST", body) != []
    assert api.post("/api/v1/goals", body, format="json").status_code == 400


@pytest.mark.parametrize(
    ("template", "method", "body"),
    [
        ("/api/v1/goals", "POST", {"name": "G", "criteria": {"trigger": {}}, "attribution": 1}),
        ("/api/v1/people/{identifier}", "PUT", {"email": "x@example.org", "emial": "typo"}),
    ],
)
def test_bodies_the_server_refuses_break_the_schema_too(
    template: str, method: str, body: Any
) -> None:
    assert request_problems(template, method, body) != []


# --- every operation, called with real data -------------------------------------------------


def _closed(node: Any) -> Any:
    """The schema with every object closed to keys it does not declare: a response carrying
    a field the schema does not name is a mismatch too (a generated model would drop it)."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _closed(value) for key, value in node.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("decimal")
def _is_decimal_string(value: object) -> bool:
    # SPEC §7: money is a decimal string ("29.90", "-3", "500"), never a float.
    return not isinstance(value, str) or re.fullmatch(r"-?\d+(\.\d+)?", value) is not None


@FORMATS.checks("date-time")
def _is_instant_with_offset(value: object) -> bool:
    # SPEC §7: timestamps are ISO 8601 with an offset.
    if not isinstance(value, str):
        return True
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


class Walk:
    """Calls operations and checks each answer against the schema; remembers what it saw."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(
        self,
        method: str,
        template: str,
        url: str,
        body: Any = None,
        *,
        client: APIClient | None = None,
        **extra: Any,
    ) -> Any:
        data = None if body is None else json.dumps(body)
        response = (client or self.client).generic(
            method, url, data or "", "application/json", **extra
        )
        self.check(method, template, response)
        return response

    def check(self, method: str, template: str, response: Any) -> None:
        operation = openapi()["paths"][template][method.lower()]
        status = str(response.status_code)
        self.seen.add((method, template, response.status_code))
        assert status in operation["responses"], (method, template, status, response.content)
        content = operation["responses"][status].get("content")
        if not content:
            assert response.content == b"", (method, template, status)
            return
        media_type = response["Content-Type"].split(";")[0]
        assert media_type in content, (method, template, status, media_type)
        if media_type != "application/json":
            assert response.content, (method, template, status)
            return
        schema = {
            **_closed(_json_schema(content[media_type]["schema"])),
            "components": _closed(_json_schema(openapi()["components"])),
        }
        validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
        body = response.json()
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert problems == [], (method, template, status, body)


def _schema_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), template)
        for template, operations in openapi()["paths"].items()
        for method in operations
    }


def test_every_operation_answers_what_the_schema_documents(
    api: APIClient,
    viewer_api: APIClient,
    other_api: APIClient,
    workspace: Workspace,
) -> None:
    walk = Walk(api)
    v1 = "/api/v1"

    # Messaging objects: create, list (filtered), read, replace, change; bad input.
    ids: dict[str, int] = {}
    created_bodies: list[tuple[str, dict[str, Any]]] = [
        ("campaigns", {"name": "Onboarding", "status": "running", "tags": ["onb"]}),
        (
            "broadcasts",
            {"name": "News", "kind": "newsletter", "channels": ["email"], "tags": ["n"]},
        ),
        ("segments", {"name": "VIP"}),
    ]
    for kind, body in created_bodies:
        created = walk("POST", f"{v1}/{kind}", f"{v1}/{kind}", body)
        assert created.status_code == 201
        ids[kind] = created.json()["id"]
        one, url = f"{v1}/{kind}/{{id}}", f"{v1}/{kind}/{ids[kind]}"
        assert walk("GET", f"{v1}/{kind}", f"{v1}/{kind}?name=o&page_size=1").status_code == 200
        assert walk("GET", one, url).status_code == 200
        assert walk("PUT", one, url, {"name": body["name"]}).status_code == 200
        assert walk("PATCH", one, url, {"name": body["name"]}).status_code == 200
        assert walk("POST", f"{v1}/{kind}", f"{v1}/{kind}", {"name": ""}).status_code == 400
        assert walk("GET", one, url, client=other_api).status_code == 404
        assert walk("PATCH", one, url, {"name": "x"}, client=viewer_api).status_code == 403
    campaign, news, segment = ids["campaigns"], ids["broadcasts"], ids["segments"]
    walk("GET", f"{v1}/broadcasts", f"{v1}/broadcasts?kind=newsletter&channel=email&tag=n")
    assert walk("GET", f"{v1}/campaigns", f"{v1}/campaigns?page=9").status_code == 400

    # Ingestion, in each of its answers.
    person, events = f"{v1}/people/{{identifier}}", f"{v1}/people/{{identifier}}/events"
    attributes = {"attributes": {"country": "DE"}, "timestamp": "2026-01-01T00:00:00Z"}
    assert walk("PUT", person, f"{v1}/people/ada", attributes).status_code == 201
    assert walk("PUT", person, f"{v1}/people/ada", {"email": "a@example.org"}).status_code == 200
    assert walk("GET", person, f"{v1}/people/ada").status_code == 200
    assert walk("GET", person, f"{v1}/people/nobody").status_code == 404
    event = {"name": "paid", "data": {"price": "29.90"}, "id": "e1", "timestamp": 1767607200}
    assert walk("POST", events, f"{v1}/people/ada/events", event).status_code == 201
    assert walk("POST", events, f"{v1}/people/ada/events", event).status_code == 200
    assert walk("POST", events, f"{v1}/people/bob/events", event).status_code == 409
    assert (
        walk(
            "POST",
            events,
            f"{v1}/people/ada/events",
            {"name": "x", "timestamp": "2026-01-05T11:00:00"},
        ).status_code
        == 400
    )
    change = {"segment": segment, "action": "enter", "timestamp": "2026-01-01T00:00:00+01:00"}
    segments = f"{v1}/people/{{identifier}}/segments"
    assert walk("POST", segments, f"{v1}/people/ada/segments", change).status_code == 201
    message = {
        "id": "m1",
        "person": "ada",
        "channel": "email",
        "campaign": campaign,
        "sent_at": "2026-01-05T08:00:00Z",
    }
    assert walk("POST", f"{v1}/messages", f"{v1}/messages", message).status_code == 201
    assert walk("POST", f"{v1}/messages", f"{v1}/messages", message).status_code == 200
    conflict = {**message, "channel": "sms"}
    assert walk("POST", f"{v1}/messages", f"{v1}/messages", conflict).status_code == 409
    metrics = f"{v1}/messages/{{id}}/metrics"
    opened = {"metric": "opened", "timestamp": "2026-01-05T08:30:00Z", "machine": False}
    assert walk("POST", metrics, f"{v1}/messages/m1/metrics", opened).status_code == 201
    assert walk("POST", metrics, f"{v1}/messages/m1/metrics", opened).status_code == 200
    assert walk("POST", metrics, f"{v1}/messages/m2/metrics", opened).status_code == 202
    assert walk("GET", f"{v1}/messages/{{id}}", f"{v1}/messages/m1").status_code == 200
    items = [
        {"type": "person", "person": "cy", "attributes": {"a": 1}},
        {"type": "event", "person": "cy", "name": "paid", "timestamp": 1767607200},
        {"type": "segment", "person": "cy", "segment": segment, "action": "enter"},
        {"type": "message", "id": "m3", "person": "cy", "channel": "in_app", "sent_at": 1767600000},
        {"type": "metric", "message": "m3", "metric": "opened", "timestamp": 1767600100},
        {"type": "metric", "message": "m4", "metric": "opened", "timestamp": 1767600100},
        {"type": "event", "person": "cy"},
        {"type": "delete_person", "person": "dee"},
    ]
    batch = walk("POST", f"{v1}/batch", f"{v1}/batch", {"items": items})
    assert [r["status"] for r in batch.json()["results"]] == [
        201,
        201,
        201,
        201,
        201,
        202,
        400,
        404,
    ]

    # Goals: create, list, read, change, report (JSON and CSV), achievements, the picker.
    goal_body = {
        "name": "Trial to paid",
        "tags": ["revenue"],
        "criteria": {
            "trigger": {"type": "event", "name": "paid"},
            "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
        },
        "impact": {"currency": "EUR", "event_key": "price"},
        "attribution": {"window_days": 3, "metrics": {"email": "opened"}},
        "sources": [{"type": "campaign", "id": campaign}, {"type": "broadcast", "id": news}],
    }
    created = walk("POST", f"{v1}/goals", f"{v1}/goals", goal_body)
    assert created.status_code == 201
    goal = created.json()["id"]
    one = f"{v1}/goals/{{id}}"
    assert walk("GET", f"{v1}/goals", f"{v1}/goals?tag=revenue&search=paid").status_code == 200
    assert walk("GET", one, f"{v1}/goals/{goal}").status_code == 200
    assert walk("PUT", one, f"{v1}/goals/{goal}", goal_body).status_code == 200
    assert walk("PATCH", one, f"{v1}/goals/{goal}", {"description": "d"}).status_code == 200
    bad_goal = {"name": "x", "criteria": {"trigger": {"type": "nope"}}}
    assert walk("POST", f"{v1}/goals", f"{v1}/goals", bad_goal).status_code == 400
    range_ = "start=2026-01-01&end=2026-01-31"
    summary = f"{v1}/goals/summary"
    assert walk("GET", summary, f"{summary}?{range_}").status_code == 200
    assert walk("GET", summary, f"{summary}?format=csv").status_code == 200
    report, url = f"{v1}/goals/{{id}}/report", f"{v1}/goals/{goal}/report"
    body = walk("GET", report, f"{url}?{range_}&period=week").json()
    assert (body["total_people"], body["impact"]) == (1, {"amount": "29.90", "currency": "EUR"})
    assert body["by_source"][0]["source"]["id"] == campaign
    assert walk("GET", report, f"{url}?{range_}&period=day").status_code == 200
    assert walk("GET", report, f"{url}?format=csv").status_code == 200
    assert walk("GET", report, url, HTTP_ACCEPT="text/csv")["Content-Type"].startswith("text/csv")
    assert walk("GET", report, f"{url}?period=month").status_code == 400
    listed = f"{v1}/goals/{{id}}/achievements"
    achievements = walk("GET", listed, f"{v1}/goals/{goal}/achievements?{range_}").json()
    assert achievements["results"][0]["source"]["id"] == campaign
    assert achievements["results"][0]["revenue"] == "29.90"
    walk(
        "GET", listed, f"{v1}/goals/{goal}/achievements?attributed=false&source=campaign:{campaign}"
    )
    assert (
        walk("GET", listed, f"{v1}/goals/{goal}/achievements?attributed=maybe").status_code == 400
    )
    picker = f"{v1}/goals/{{id}}/sources/candidates"
    picked = walk("GET", picker, f"{v1}/goals/{goal}/sources/candidates?type=broadcast").json()
    assert [(c["type"], c["selected"]) for c in picked["results"]] == [("broadcast", True)]

    # Deleting: a source stays in the report, marked deleted; then people and the objects.
    assert walk("DELETE", f"{v1}/campaigns/{{id}}", f"{v1}/campaigns/{campaign}").status_code == 204
    sources = walk("GET", report, url).json()["by_source"]
    assert {(s["source"]["type"], s["source"]["deleted"]) for s in sources} >= {("campaign", True)}
    assert walk("DELETE", person, f"{v1}/people/ada").status_code == 204
    assert (
        walk("GET", listed, f"{v1}/goals/{goal}/achievements").json()["results"][0]["person"]
        is None
    )
    assert walk("DELETE", person, f"{v1}/people/ada").status_code == 404
    for kind in ("broadcasts", "segments"):
        walk("DELETE", f"{v1}/{kind}/{{id}}", f"{v1}/{kind}/{ids[kind]}", client=viewer_api)
        assert walk("DELETE", f"{v1}/{kind}/{{id}}", f"{v1}/{kind}/{ids[kind]}").status_code == 204
    assert walk("DELETE", one, f"{v1}/goals/{goal}").status_code == 204
    assert walk("GET", one, f"{v1}/goals/{goal}").status_code == 404

    # Every operation was called, and answered a success at least once.
    succeeded = {(method, template) for method, template, status in walk.seen if status < 300}
    assert succeeded == _schema_operations()


def test_every_operation_documents_its_refusals(
    api: APIClient, other_api: APIClient, viewer_api: APIClient, workspace: Workspace
) -> None:
    # Without credentials (401), with another workspace's token (404 where the path names
    # an object), a viewer's write (403), and an Accept header refusing JSON (406).
    walk = Walk(api)
    goal = api.post(
        "/api/v1/goals",
        {"name": "G", "criteria": {"trigger": {"type": "event", "name": "paid"}}},
        format="json",
    ).json()["id"]
    api.put("/api/v1/people/ada", {}, format="json")
    api.post(
        "/api/v1/messages",
        {"id": "m1", "person": "ada", "channel": "email", "sent_at": 1767600000},
        format="json",
    )
    ids = {"goals": goal, "messages": "m1"}
    for kind in ("campaigns", "broadcasts", "segments"):
        ids[kind] = api.post(f"/api/v1/{kind}", {"name": kind}, format="json").json()["id"]
    for method, template in sorted(_schema_operations()):
        kind = template.split("/")[3]
        url = template.replace("{id}", str(ids.get(kind))).replace("{identifier}", "ada")
        assert walk(method, template, url, client=APIClient()).status_code == 401
        refused = walk(method, template, url, HTTP_ACCEPT="application/xml")
        assert refused.status_code == 406
        if method != "GET":
            assert walk(method, template, url, {}, client=viewer_api).status_code == 403
        if "{id}" in template and not template.endswith("/metrics"):
            # (A metric for a message id the caller's workspace lacks waits for it: 202/400.)
            assert walk(method, template, url, {}, client=other_api).status_code == 404


# --- fixed value sets are enums -----------------------------------------------------------


def _values(schema: dict[str, Any]) -> set[str]:
    """The values a (possibly referenced or wrapped) string schema allows."""
    components = openapi()["components"]["schemas"]
    for wrapper in ("allOf", "oneOf"):
        if wrapper in schema and len(schema[wrapper]) == 1:
            schema = schema[wrapper][0]
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("enum", []))


@pytest.mark.parametrize(
    ("component", "path", "values"),
    [
        ("ReportSource", ["type"], {"campaign", "broadcast"}),
        ("GoalReport", ["period"], {"day", "week"}),
        ("SummaryGoal", ["status"], {"ready", "recomputing"}),
        ("Trigger", ["kind"], {"event", "attribute", "segment", "message"}),
        ("SourceCandidate", ["status"], {"draft", "running", "stopped", "archived", "sent"}),
        ("SourceCandidate", ["channels", "items"], set(channels.CHANNELS)),
    ],
)
def test_response_fields_with_fixed_values_document_them(
    component: str, path: list[str], values: set[str]
) -> None:
    # A generated client types these as enums only if the schema lists the values.
    schema = openapi()["components"]["schemas"][component]["properties"][path[0]]
    for key in path[1:]:
        schema = schema[key]
    assert _values(schema) == values


@pytest.mark.parametrize(("component", "field"), [("Person", "attributes"), ("Event", "data")])
def test_json_objects_in_responses_are_typed_as_objects(component: str, field: str) -> None:
    # Always a JSON object (attributes, an event's data); the schema said "any value".
    schema = openapi()["components"]["schemas"][component]["properties"][field]

    assert schema["type"] == "object"


def test_an_achievements_revenue_is_a_decimal_string_as_the_reports_are() -> None:
    revenue = openapi()["components"]["schemas"]["Achievement"]["properties"]["revenue"]

    assert (revenue["type"], revenue.get("format")) == ("string", "decimal")


def test_the_source_picker_documents_its_filters_as_the_lists_do() -> None:
    # Repeats or commas, any of: arrays of the allowed values, as /broadcasts documents them.
    template = "/api/v1/goals/{id}/sources/candidates"
    parameters = {p["name"]: p["schema"] for p in openapi()["paths"][template]["get"]["parameters"]}

    for name, values in [
        ("type", {"campaign", "broadcast"}),
        ("status", {"draft", "running", "stopped", "archived", "sent"}),
        ("channel", set(channels.CHANNELS)),
    ]:
        assert parameters[name]["type"] == "array", name
        assert _values(parameters[name]["items"]) == values, name
    listed = openapi()["paths"]["/api/v1/broadcasts"]["get"]["parameters"]
    tag = next(p["schema"] for p in listed if p["name"] == "tag")
    assert parameters["tag"] == tag  # an array of at most 100 tags (more is a 400)


def test_the_enum_component_names_stay_as_clients_know_them() -> None:
    components = openapi()["components"]["schemas"]

    for name in (
        "KindEnum",
        "ChannelEnum",
        "GoalStatusEnum",
        "CampaignStatusEnum",
        "BroadcastStatusEnum",
        "SourceCandidateTypeEnum",
    ):
        assert name in components, name
    assert components["KindEnum"]["enum"] == ["newsletter", "api_triggered", "in_app"]


def test_a_sessions_answers_are_documented_too(owner: Any, other_workspace: Workspace) -> None:
    # SPEC §7: a logged-in session authenticates like a token; its own refusals (a write
    # without the CSRF token, a workspace that is not an id or not the user's, a user in no
    # workspace) are documented with the same bodies.
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(owner)
    walk = Walk(session)
    goals, body = "/api/v1/goals", {"name": "G", "criteria": {"trigger": {"type": "segment"}}}

    assert walk("GET", goals, goals).status_code == 200
    assert walk("POST", goals, goals, body).status_code == 403
    assert walk("GET", goals, goals, HTTP_X_WORKSPACE="abc").status_code == 400
    assert walk("GET", goals, goals, HTTP_X_WORKSPACE=str(other_workspace.pk)).status_code == 404
    loner = APIClient()
    loner.force_login(type(owner).objects.create_user("lou", "lou@example.org", "password"))
    assert Walk(loner)("GET", goals, goals).status_code == 403


# --- conflicts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("POST", "/api/v1/campaigns", {"name": "C", "tags": ["new"]}),
        ("PUT", "/api/v1/campaigns/{id}", {"name": "C", "tags": ["new"]}),
        ("PATCH", "/api/v1/campaigns/{id}", {"tags": ["new"]}),
        ("POST", "/api/v1/broadcasts", {"name": "B", "tags": ["new"]}),
        ("PATCH", "/api/v1/broadcasts/{id}", {"tags": ["new"]}),
        ("POST", "/api/v1/goals", {"name": "G", "tags": ["new"]}),
        ("PUT", "/api/v1/goals/{id}", {"name": "G", "tags": ["new"]}),
        ("PATCH", "/api/v1/goals/{id}", {"tags": ["new"]}),
    ],
)
def test_a_tag_created_by_concurrent_requests_is_a_documented_409(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, method: str, template: str, body: Any
) -> None:
    # campaigns.sources._tag_create answers 409 when its tag row keeps clashing with rows
    # other requests are creating (three attempts): any write that names a new tag.
    criteria = {"trigger": {"type": "event", "name": "paid"}}
    kind = template.split("/")[3]
    if "{id}" in template:
        created = {"name": "x", **({"criteria": criteria} if kind == "goals" else {})}
        url = f"/api/v1/{kind}/{api.post(f'/api/v1/{kind}', created, format='json').json()['id']}"
    else:
        url = template
    if kind == "goals":
        body = {**body, "criteria": criteria} if method != "PATCH" else body

    def clash(*args: Any, **kwargs: Any) -> Any:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(Tag.objects, "create", clash)
    response = Walk(api)(method, template, url, body)

    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["tags"]
    description = openapi()["paths"][template][method.lower()]["responses"]["409"]["description"]
    assert "new tag" in description


def test_a_409_a_view_documents_keeps_its_reason_beside_the_tags_one() -> None:
    responses = openapi()["paths"]["/api/v1/broadcasts/{id}"]["patch"]["responses"]

    assert "`kind` would stop being `newsletter`" in responses["409"]["description"]
    assert "new tag" in responses["409"]["description"]
