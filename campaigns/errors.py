"""Domain errors and their one mapping to HTTP (SPEC §7).

400 bodies are always ``{"errors": {"<field>": ["<reason>"]}}``; nested fields are joined with
dots (``items.3.timestamp``, ``criteria.trigger.name``). Other errors keep DRF's
``{"detail": "..."}``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A business rule refused the operation."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: dict[str, list[str]] | str, field: str = "non_field_errors"):
        self.errors = errors if isinstance(errors, dict) else {field: [errors]}
        super().__init__(str(self.errors))


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into ``{"a.b.0.c": ["reason", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors" and prefix:
                name = prefix
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if not item:
                    continue
                name = f"{prefix}.{index}" if prefix else str(index)
                for k, v in flatten_errors(item, name).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_response(errors: dict[str, list[str]], status_code: int = 400) -> Response:
    if status_code == status.HTTP_400_BAD_REQUEST:
        return Response({"errors": errors}, status=status_code)
    first = next(iter(errors.values()), ["error"])
    return Response({"detail": first[0], "errors": errors}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc.errors, exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response({"errors": flatten_errors(detail)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.ValidationError):
        return Response({"errors": flatten_errors(exc.detail)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response({"body": [f"is larger than the limit of {limit} bytes"]})
    if isinstance(exc, TooManyFieldsSent):  # Django's HTML 400 page otherwise
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        request = context.get("request")
        query = request.META.get("QUERY_STRING", "") if request is not None else ""
        where = "query" if query.count("&") >= limit else "body"  # a form body's fields
        return error_response({where: [f"has more than {limit} parameters, the limit"]})
    if isinstance(exc, exceptions.ParseError):
        return Response({"errors": {"body": [str(exc.detail)]}}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # A body that is not JSON is bad input like malformed JSON (SPEC §7: 400 with the
        # errors shape); DRF's 415 {"detail"} is no answer the contract has. curl's -d sends
        # a form body unless told otherwise.
        request = context.get("request")
        sent = request.content_type if request is not None else ""
        return error_response(
            {"body": [f'unsupported media type "{sent}"; send JSON as application/json']}
        )
    return drf_exception_handler(exc, context)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The API's 404 body ``{"detail": "Not found."}`` as JSON, as every other 404 of the API
    (SPEC §7) and its schema document it: for a URL under ``/api/`` that no route matches (an
    id that is not a number, ``/api/v1/goals/abc/``, or a misspelt path). Routed as the last
    pattern under ``/api/``, so it answers the same with ``DEBUG`` on (``make run``), where
    Django would show its HTML debug page instead of ``handler404``. Exempt from CSRF as the
    API's views are (token clients send no cookie): a write to such a URL was Django's HTML
    403 "CSRF verification failed" page, not this 404."""
    return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler404``: ``api_not_found`` under ``/api/``, else Django's own page (the
    UI, the admin)."""
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)
