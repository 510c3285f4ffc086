"""OpenAPI (drf-spectacular) extensions for the project's own API classes.

Imported by ``campaigns.api`` so the extensions are registered before a schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


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
