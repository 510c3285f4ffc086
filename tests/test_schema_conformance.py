"""The OpenAPI schema describes what the server does, as a generated client sees it (SPEC §7).

Every operation of the schema is called through the test client with real data, and every
answer, success or error, has a status the operation documents and a body its schema allows.
Request bodies the schema (or its own descriptions) promises are accepted, are.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from rest_framework.test import APIClient

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
