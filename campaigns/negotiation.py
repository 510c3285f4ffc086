"""How the API picks a response format (``REST_FRAMEWORK["DEFAULT_CONTENT_NEGOTIATION_CLASS"]``).

DRF's own negotiation differs from SPEC §7 in two ways, both fixed here:

* An explicit ``?format=`` loses to the ``Accept`` header: ``?format=csv`` with ``Accept:
  application/json`` (what many HTTP clients send by default) is a 406. Here the format the URL
  names wins; ``Accept`` only chooses among the renderers of that format.
* An unknown ``?format=`` is a bare 404 ``{"detail": "Not found."}``, which reads like "outside
  your workspace". Here it is a 400 naming ``format`` and the formats the endpoint has.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FormatFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        param = self.settings.URL_FORMAT_OVERRIDE
        wanted = format_suffix or (request.query_params.get(param) if param else None)
        matching = [renderer for renderer in renderers if renderer.format == wanted]
        if wanted and not matching:
            allowed = ", ".join(dict.fromkeys(str(r.format) for r in renderers))
            raise ValidationError(
                {param or "format": [f'unknown format "{wanted}"; expected one of {allowed}']}
            )
        try:
            selected: tuple[BaseRenderer, str] = super().select_renderer(
                request, renderers, format_suffix
            )
        except NotAcceptable:
            if not matching:
                raise
            # The URL's explicit choice beats an Accept header that does not include it.
            return matching[0], str(matching[0].media_type)
        return selected
