"""Findings of fuzzing the API against its own OpenAPI schema (schemathesis): what the server
answers must be what the schema it publishes says, and what the schema allows the server must
take (SPEC §7, docs/decisions.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services, values
from campaigns.models import Campaign, Event, Person, Role, Workspace
from goals.models import Goal
from tests.campaigns.test_api_schema_responses import assert_documented, openapi

# --- a URL no route matches --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "url"),
    [
        # An id that is not a number (schemathesis sent 1.6875051868995362e-33).
        ("/api/v1/goals/{id}/sources/candidates", "/api/v1/goals/1.5e-33/sources/candidates"),
        ("/api/v1/goals/{id}", "/api/v1/goals/abc"),
        ("/api/v1/campaigns/{id}", "/api/v1/campaigns/-1"),
        ("/api/v1/segments/{id}", "/api/v1/segments/null"),
    ],
)
def test_an_api_url_no_route_matches_is_the_api_404_in_json(
    api: APIClient, template: str, url: str
) -> None:
    # It was Django's HTML "Not Found" page, which the schema does not document and an API
    # client cannot read.
    response = api.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert_documented(template, "GET", response)


def test_an_api_url_no_route_matches_is_json_with_debug_on_too(
    api: APIClient, settings: Any
) -> None:
    """``make run`` serves with ``DEBUG`` on, where Django shows its HTML debug page instead of
    ``handler404``."""
    settings.DEBUG = True

    response = api.get("/api/v1/goals/1.5/sources/candidates")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/people/a%2Fb",  # an identifier with "/" (the batch takes those)
        "/api/v1/messages/a/b/metrics",
        "/api/v1/campaign",  # misspelt
    ],
)
def test_a_write_to_an_api_url_no_route_matches_is_the_api_404_not_a_csrf_page(
    workspace: Workspace, method: str, url: str
) -> None:
    # A token client sends no CSRF cookie, as every API client: the 404 view was not exempt,
    # so Django answered 403 with its HTML "CSRF verification failed" page, which reads as a
    # credentials or role problem (SPEC §7) and is not JSON.
    _, secret = services.api_token_create(workspace=workspace, name="t", role=Role.EDITOR)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = getattr(client, method)(url, {"name": "x"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/api/docs", "/api/schema", "/api/redoc"])
def test_the_api_pages_without_their_slash_still_redirect(api: APIClient, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 301
    assert response["Location"] == f"{path}/"


def test_a_ui_url_no_route_matches_keeps_djangos_page(client: Any, db: Any) -> None:
    response = client.get("/goals/no/such/page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- unknown body keys -------------------------------------------------------------------------


def test_every_request_body_says_unknown_keys_are_refused() -> None:
    # The server refuses unknown keys (400 naming them, docs/decisions.md); the schema said
    # any extra key was fine, so a client (and schemathesis) built from it sent them.
    components = openapi()["components"]["schemas"]
    requests = {name: schema for name, schema in components.items() if name.endswith("Request")}

    assert len(requests) > 15
    for name, schema in requests.items():
        if "oneOf" in schema:  # the batch item: each of its variants is checked
            continue
        assert schema.get("additionalProperties") is False, name


def test_a_goals_json_parts_say_unknown_keys_are_refused() -> None:
    goal = openapi()["components"]["schemas"]["GoalRequest"]["properties"]
    criteria = goal["criteria"]
    event_trigger = criteria["properties"]["trigger"]["oneOf"][0]

    assert criteria["additionalProperties"] is False
    assert event_trigger["properties"]["conditions"]["items"]["additionalProperties"] is False
    assert goal["impact"]["additionalProperties"] is False
    assert goal["attribution"]["additionalProperties"] is False
    assert goal["sources"]["items"]["additionalProperties"] is False


def test_the_server_refuses_unknown_keys_in_the_goal_parts(
    api: APIClient, workspace: Workspace
) -> None:
    response = api.post(
        "/api/v1/goals",
        {
            "name": "Paid",
            "criteria": {"trigger": {"type": "event", "name": "paid"}, "filterz": []},
            "impact": {"currency": "EUR", "static": "1.00", "amount": "2"},
            "attribution": {"window": 3},
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"criteria.filterz", "impact.amount"}
    assert any(key.startswith("attribution.window") for key in response.json()["errors"])


def test_a_batch_body_refuses_keys_beside_items(api: APIClient, workspace: Workspace) -> None:
    # The batch body was the one body whose unknown keys passed unnoticed.
    response = api.post(
        "/api/v1/batch",
        {"items": [{"type": "person", "person": "p1"}], "itemz": []},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"errors": {"itemz": ["unknown field; the body has only items"]}}
    assert_documented("/api/v1/batch", "POST", response)
    assert not workspace.people.exists()


# --- ranges the server refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "/api/v1/campaigns",
        "/api/v1/broadcasts",
        "/api/v1/segments",
        "/api/v1/goals",
        "/api/v1/goals/{id}/achievements",
        "/api/v1/goals/{id}/sources/candidates",
    ],
)
def test_page_and_page_size_are_documented_from_1(template: str) -> None:
    # The schema said any integer; 0 or a negative number is a 400 (docs/decisions.md).
    parameters = {p["name"]: p["schema"] for p in openapi()["paths"][template]["get"]["parameters"]}

    assert parameters["page_size"]["minimum"] == 1
    assert parameters["page"]["oneOf"] == [
        {"type": "integer", "minimum": 1, "maximum": values.MAX_ID},
        {"type": "string", "enum": ["last"]},
    ]


def test_page_size_0_and_page_last_answer_as_documented(
    api: APIClient, workspace: Workspace
) -> None:
    bad = api.get("/api/v1/campaigns/?page_size=0")
    last = api.get("/api/v1/campaigns/?page=last")

    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"page_size"}
    assert last.status_code == 200


def test_ids_the_server_takes_are_documented_from_1() -> None:
    paths = openapi()["paths"]
    components = openapi()["components"]["schemas"]
    achievements = {
        p["name"]: p["schema"]
        for p in paths["/api/v1/goals/{id}/achievements"]["get"]["parameters"]
    }
    bodies = [
        components["SegmentBodyRequest"]["properties"]["segment"],
        components["MessageBodyRequest"]["properties"]["campaign"],
        components["MessageBodyRequest"]["properties"]["broadcast"],
        achievements["source_id"],
        achievements["campaign"],
        achievements["broadcast"],
    ]

    for schema in bodies:
        assert (schema["minimum"], schema["maximum"]) == (1, values.MAX_ID), schema


# --- U+0000, which PostgreSQL cannot store nor compare (500s there) ---------------------------

NUL = "a\x00b"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/campaigns", {"name": "Onboarding", "tags": ["q4", NUL]}),
        ("/api/v1/broadcasts", {"name": "News", "kind": "newsletter", "tags": [NUL]}),
        (
            "/api/v1/goals",
            {
                "name": "Paid",
                "criteria": {"trigger": {"type": "event", "name": "paid"}},
                "tags": [NUL],
            },
        ),
    ],
)
def test_a_tag_with_nul_is_a_400_naming_tags(
    api: APIClient, workspace: Workspace, url: str, body: dict[str, Any]
) -> None:
    response = api.post(url, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"tags": [f"tags {values.NUL_ERROR}"]}}


@pytest.mark.parametrize("url", ["/api/v1/campaigns", "/api/v1/broadcasts", "/api/v1/goals"])
def test_a_tag_filter_with_nul_is_a_400_naming_tag(
    api: APIClient, workspace: Workspace, url: str
) -> None:
    response = api.get(url, {"tag": NUL})

    assert response.status_code == 400
    assert response.json() == {"errors": {"tag": [values.NUL_ERROR]}}


@pytest.mark.parametrize(
    ("criteria", "impact", "field"),
    [
        ({"trigger": {"type": "event", "name": NUL}}, None, "criteria.trigger.name"),
        (
            {
                "trigger": {
                    "type": "event",
                    "name": "paid",
                    "conditions": [{"key": NUL, "op": "exists"}],
                }
            },
            None,
            "criteria.trigger.conditions.0.key",
        ),
        (
            {"trigger": {"type": "attribute", "key": NUL, "op": "exists"}},
            None,
            "criteria.trigger.key",
        ),
        (
            {
                "trigger": {"type": "event", "name": "paid"},
                "filters": [{"type": "attribute", "key": NUL, "op": "exists"}],
            },
            None,
            "criteria.filters.0.key",
        ),
        (
            {"trigger": {"type": "event", "name": "paid"}},
            {"currency": "EUR", "event_key": NUL},
            "impact.event_key",
        ),
    ],
)
def test_goal_names_and_keys_with_nul_are_a_400_naming_them(
    api: APIClient, workspace: Workspace, criteria: Any, impact: Any, field: str
) -> None:
    response = api.post(
        "/api/v1/goals",
        {"name": "Paid", "criteria": criteria, "impact": impact},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"errors": {field: [values.NUL_ERROR]}}
    assert not workspace.goals.exists()


@pytest.mark.parametrize(
    ("template", "url", "field"),
    [
        ("/api/v1/people/{identifier}", "/api/v1/people/a%00b", "person"),
        ("/api/v1/messages/{id}", "/api/v1/messages/a%00b", "message"),
    ],
)
def test_reading_a_path_id_with_nul_is_a_400_as_writing_it(
    api: APIClient, workspace: Workspace, template: str, url: str, field: str
) -> None:
    response = api.get(url)

    assert response.status_code == 400
    assert response.json() == {"errors": {field: [values.NUL_ERROR]}}
    assert_documented(template, "GET", response)


# --- bodies Python's json reads but nothing can store or parse (500s) -------------------------

BODY_URLS = [
    "/api/v1/people/ada/events",
    "/api/v1/people/ada",
    "/api/v1/batch",
    "/api/v1/campaigns",
    "/api/v1/goals",
]


@pytest.mark.parametrize("url", BODY_URLS)
@pytest.mark.parametrize("opener", ['{"a":', "["])
def test_a_body_nested_too_deeply_is_a_400_naming_body(
    api: APIClient, workspace: Workspace, url: str, opener: str
) -> None:
    # Python's json recursed past its limit: RecursionError, a 500 with Django's HTML page.
    closer = "}" if opener.startswith("{") else "]"
    raw = '{"name": "x", "data": ' + opener * 5000 + "1" + closer * 5000 + "}"
    method = api.put if url == "/api/v1/people/ada" else api.post

    response = method(url, raw, content_type="application/json")

    assert response.status_code == 400
    [reason] = response.json()["errors"]["body"]
    assert "nested too deeply" in reason
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/people/ada/events", {"name": "x", "data": {"k": "DEEP"}}, "data.k"),
        ("/api/v1/people/ada", {"attributes": {"k": "DEEP"}}, "attributes.k"),
    ],
)
def test_data_nested_deeper_than_the_limit_is_a_400_naming_its_path(
    api: APIClient, workspace: Workspace, url: str, body: dict[str, Any], field: str
) -> None:
    # 900 levels parse, and were stored; every later read of the row (the admin's person and
    # event pages, the engine) decodes it with Python's recursive json inside a deeper stack
    # and failed with RecursionError, a 500 each time.
    leaf: Any = 1
    for _ in range(900):
        leaf = [leaf]
    body = {
        k: ({"k": leaf} if isinstance(v, dict) and v.get("k") == "DEEP" else v)
        for k, v in body.items()
    }
    method = api.put if url == "/api/v1/people/ada" else api.post

    response = method(url, body, format="json")

    assert response.status_code == 400
    [(path, [reason])] = response.json()["errors"].items()
    assert path == field + ".0" * (values.MAX_JSON_DEPTH - 1)
    assert reason == values.DEPTH_ERROR
    assert not Event.objects.exists()
    assert not Person.objects.filter(attributes__has_key="k").exists()


def test_a_batch_refuses_only_the_item_nested_too_deeply(
    api: APIClient, workspace: Workspace
) -> None:
    leaf: Any = 1
    for _ in range(100):
        leaf = {"a": leaf}
    items = [
        {"type": "event", "person": "ada", "name": "deep", "data": leaf},
        {"type": "event", "person": "ada", "name": "fine", "data": {"a": {"b": 1}}},
    ]

    response = api.post("/api/v1/batch", {"items": items}, format="json")

    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == 400
    assert list(first["errors"]) == ["data" + ".a" * values.MAX_JSON_DEPTH]
    assert second["status"] == 201
    assert list(Event.objects.values_list("name", flat=True)) == ["fine"]


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("/api/v1/people/ada/events", r'{"name": "signup\ud800"}'),
        ("/api/v1/people/ada/events", r'{"name": "x", "data": {"k\udfff": 1}}'),
        ("/api/v1/people/ada", r'{"attributes": {"plan": "\udc00pro"}}'),
        (
            "/api/v1/batch",
            r'{"items": [{"type": "event", "person": "ada", "name": "x", "id": "\ud83d"}]}',
        ),
        ("/api/v1/campaigns", r'{"name": "Spring \ud800"}'),
        (
            "/api/v1/goals",
            r'{"name": "\ud800", "criteria": {"trigger": {"type": "event", "name": "x"}}}',
        ),
    ],
)
def test_a_lone_surrogate_escape_is_a_400_naming_body(
    api: APIClient, workspace: Workspace, url: str, raw: str
) -> None:
    # "\ud800" alone is valid JSON syntax that Python reads as a str no UTF-8 encoder (the
    # database's driver, the response) can write: a 500 on SQLite and PostgreSQL alike.
    method = api.put if url == "/api/v1/people/ada" else api.post

    response = method(url, raw, content_type="application/json")

    assert response.status_code == 400
    [reason] = response.json()["errors"]["body"]
    assert "surrogate" in reason
    assert not Event.objects.exists()
    assert not Person.objects.exists()
    assert not Campaign.objects.exists()


def test_a_surrogate_pair_escape_is_one_character_and_accepted(
    api: APIClient, workspace: Workspace
) -> None:
    response = api.post(
        "/api/v1/people/ada/events",
        r'{"name": "party \ud83c\udf89", "data": {"\\ud800": "\\udfff"}}',
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["name"] == "party \U0001f389"
    # An escaped backslash followed by "ud800" is six plain characters, not an escape.
    assert response.json()["data"] == {"\\ud800": "\\udfff"}


# --- a body that is not a JSON object -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["[]", '"x"', "null", "[1]", "3"])
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/campaigns"),
        ("post", "/api/v1/broadcasts"),
        ("post", "/api/v1/segments"),
        ("post", "/api/v1/goals"),
        ("put", "/api/v1/campaigns/{campaign}"),
        ("patch", "/api/v1/campaigns/{campaign}"),
        ("patch", "/api/v1/goals/{goal}"),
    ],
)
def test_a_body_that_is_not_an_object_is_a_400_naming_body(
    api: APIClient, workspace: Workspace, method: str, url: str, raw: str
) -> None:
    # The ingestion endpoints said {"body": ["must be a JSON object"]}; these said
    # "non_field_errors" (DRF's key, no field of the request) with DRF's wording.
    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    goal = Goal.objects.create(
        workspace=workspace, name="g", criteria={"trigger": {"type": "event", "name": "x"}}
    )
    url = url.format(campaign=campaign.pk, goal=goal.pk)

    response = getattr(api, method)(url, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"body": ["must be a JSON object"]}}
    campaign.refresh_from_db()
    assert campaign.name == "Spring"
    assert Campaign.objects.count() == 1


def _deeper(frames: int, call: Callable[[], Any]) -> Any:
    """``call()`` from ``frames`` Python frames further down the stack."""
    return call() if frames == 0 else _deeper(frames - 1, call)


def test_what_parses_does_not_depend_on_the_stack_below_the_parser(
    api: APIClient, workspace: Workspace
) -> None:
    # The same 900 levels, sent from 150 frames deeper (as more middleware would put it):
    # Python's json counts its recursion against the request's stack, and failed with
    # RecursionError there, a 400 naming ``body`` instead of the value's path.
    leaf: Any = 1
    for _ in range(900):
        leaf = [leaf]

    raw = json.dumps({"name": "x", "data": {"k": leaf}})  # encoded up here: the client's
    # encoder is recursive too

    response = _deeper(
        150,
        lambda: api.post("/api/v1/people/ada/events", raw, content_type="application/json"),
    )

    assert response.status_code == 400
    [(path, [reason])] = response.json()["errors"].items()
    assert path == "data.k" + ".0" * (values.MAX_JSON_DEPTH - 1)
    assert reason == values.DEPTH_ERROR
