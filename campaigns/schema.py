"""OpenAPI (drf-spectacular) extensions for the project's own API classes.

``AutoSchema`` is the API's ``DEFAULT_SCHEMA_CLASS``: the one place that documents the error
responses of SPEC §7 on every operation, and that response bodies always carry their fields.
The bearer scheme below is imported by ``campaigns.api`` so the extension is registered before
a schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object, force_instance
from rest_framework import permissions, serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <workspace token>`` (``campaigns.auth``)."""

    target_class = "campaigns.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        definition["description"] = "A workspace API token; it acts in that workspace only."
        return definition


# --- error bodies, as campaigns.errors.exception_handler sends them --------------------------


class ErrorsField(serializers.DictField):
    """``{"<field>": ["<reason>", ...]}``; nested fields joined with dots."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ListField(child=serializers.CharField()), **kwargs)


class ValidationErrorSerializer(serializers.Serializer):
    """A 400: every bad field of the body or query, with its reasons."""

    errors = ErrorsField(  # type: ignore[assignment]  # shadows Serializer.errors: docs only
        help_text="Reasons by field name; nested fields are joined with dots "
        "(`items.3.timestamp`, `criteria.trigger.name`).",
    )


class ErrorSerializer(serializers.Serializer):
    """A 401, 403, 406 or 429."""

    detail = serializers.CharField()


class NotFoundErrorSerializer(serializers.Serializer):
    """A 404: nothing with this id in the caller's workspace. `errors` names the missing object
    when the endpoint looked it up by a client's id (a person, a message)."""

    detail = serializers.CharField()
    errors = ErrorsField(required=False)  # type: ignore[assignment]


class ConflictErrorSerializer(serializers.Serializer):
    """A 409: the request contradicts what is stored. `detail` is the first reason."""

    detail = serializers.CharField()
    errors = ErrorsField()  # type: ignore[assignment]


ERROR_BODIES: dict[str, type[serializers.Serializer]] = {
    "400": ValidationErrorSerializer,
    "401": ErrorSerializer,
    "403": ErrorSerializer,
    "404": NotFoundErrorSerializer,
    "406": ErrorSerializer,
    "409": ConflictErrorSerializer,
    "429": ErrorSerializer,
}

ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": 'The scheme to authenticate with: `Bearer realm="api"`.',
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "Seconds to wait before the next request.",
        }
    },
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus two things SPEC §7 promises API clients.

    Errors: every operation documents the errors it can answer, each with its body:
    400 (every operation: a bad body field or query parameter, an unknown ``?format=``, a
    session's malformed workspace), 401 and 403 (authenticated operations), 404 (another
    workspace's or no object; a session naming a workspace that is not the user's), 429
    (throttled operations), 406 (every operation: an ``Accept`` header refusing each format it
    renders, ``campaigns.negotiation``), 409 (a body writing tags: a new tag's row clashing
    with other requests'). A view documents its other 409s itself where its writes can
    conflict. An error response a view documents keeps its description; only a missing body is
    added.

    Responses: a ``ModelSerializer`` renders a model instance, which has every attribute, so
    each of its fields is always sent (``required``, nullable ones stay nullable), even where
    requests may leave it out. A plain serializer may render a dict that lacks a key, so its
    ``required=False`` fields stay optional (a batch result's ``errors``).
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses: dict[str, Any] = operation.setdefault("responses", {})
        expected = self._error_descriptions(operation)
        documented = [code for code in responses if code in ERROR_BODIES]
        for code in dict.fromkeys([*expected, *documented]):
            given = responses.get(code)
            if given is not None and given.get("content"):
                continue  # documented with a body of its own
            response = self._get_response_for_code(
                ERROR_BODIES[code], code, media_types=["application/json"]
            )
            own = (given or {}).get("description")
            response["description"] = own or expected.get(code, "")
            if own and code == "409" and code in expected:
                # The view's own conflict, and the one every write of tags may meet.
                response["description"] = f"{own} {expected[code]}"
            if code in ERROR_HEADERS:
                response["headers"] = {**ERROR_HEADERS[code], **response.get("headers", {})}
            responses[code] = response
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_descriptions(self, operation: dict[str, Any]) -> dict[str, str]:
        parameters = operation.get("parameters", [])
        query = [p["name"] for p in parameters if p["in"] == "query" and p["name"] != "format"]
        path = [p["name"] for p in parameters if p["in"] == "path"]
        writes = self.method not in permissions.SAFE_METHODS

        bad = []
        if "requestBody" in operation:
            bad.append("a body field (nested ones joined with dots)")
        if query:
            bad.append("a query parameter (" + ", ".join(f"`{n}`" for n in query) + ")")
        bad.append("an unknown `format`")
        bad.append("with a session, a `workspace` that is not an id")
        out = {"400": "Bad input, each bad field named with its reasons: " + "; ".join(bad) + "."}

        security = operation.get("security", [])
        if security and {} not in security:
            out["401"] = "No credentials, or an invalid or revoked token."
            out["403"] = (
                "The caller's role cannot change data (a viewer), a session write without its "
                "CSRF token, or a logged-in user who belongs to no workspace."
                if writes
                else "A logged-in user who belongs to no workspace."
            )

        workspace = "`X-Workspace` or `?workspace=` names a workspace the user is not in"
        if path:
            named = " and ".join(f"`{n}`" for n in path)
            out["404"] = (
                f"Nothing with this {named} in the caller's workspace; or, with a session, "
                f"{workspace}."
            )
        else:
            out["404"] = f"With a session: {workspace}."

        if "requestBody" in operation and self._writes_tags():
            out["409"] = (
                "A new tag the body names was being created by concurrent requests at the "
                "same moment; send the request again."
            )

        formats = ", ".join(f"`{media_type}`" for media_type in self.map_renderers("media_type"))
        out["406"] = (
            f"The `Accept` header refuses every format the operation answers in ({formats}); "
            "a `?format=` it has wins over the header."
        )

        if self.view.throttle_classes:
            out["429"] = "Too many requests for this token (or session user)."
        return out

    def _writes_tags(self) -> bool:
        """Whether the body writes tags, whose new rows may clash with another request's."""
        fields = getattr(force_instance(self.get_request_serializer()), "fields", {})
        tags = fields.get("tags")
        return tags is not None and not tags.read_only

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            # Every request body of the API refuses keys it does not know (docs/decisions.md,
            # "Unknown fields are refused"): ``StrictFieldsMixin`` for campaigns, broadcasts,
            # segments and goals, ``campaigns.ingestion`` for ingestion bodies and batch items,
            # the batch view for its body. Without this the schema promised that any extra key
            # is fine. (A strict serializer also tolerates the read-only fields a client read,
            # which drf-spectacular leaves out of request bodies; the schema does not invite
            # sending them.)
            schema["additionalProperties"] = False
        if direction == "response" and isinstance(
            force_instance(serializer), serializers.ModelSerializer
        ):
            properties = schema.get("properties", {})
            if properties:
                schema["required"] = sorted(properties)
        return schema


def paths_as_the_spec_writes_them(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: paths without their trailing slash, as SPEC §7
    writes them (``/api/v1/goals/{id}/report``). The API answers both forms."""
    result["paths"] = {path.rstrip("/") or "/": item for path, item in result["paths"].items()}
    return result
