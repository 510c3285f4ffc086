"""How the API picks a response format (``REST_FRAMEWORK["DEFAULT_CONTENT_NEGOTIATION_CLASS"]``).

DRF's own negotiation differs from SPEC §7 in two ways, both fixed here:

* An explicit ``?format=`` loses to the ``Accept`` header: ``?format=csv`` with ``Accept:
  application/json`` (what many HTTP clients send by default) is a 406. Here the format the URL
  names wins; ``Accept`` only chooses among the renderers of that format.
* An unknown ``?format=`` is a bare 404 ``{"detail": "Not found."}``, which reads like "outside
  your workspace". Here it is a 400 naming ``format`` and the formats the endpoint has.

And one way in which it differs from HTTP (RFC 9110, 12.5.1): DRF ignores ``q`` and, among
media types equally specific, prefers its own first renderer, so ``Accept: text/csv,
application/json`` or ``text/csv;q=0.9, application/json;q=0.1`` got JSON from the report.
Here each renderer gets the quality of the most specific range of the header that matches it
(``q=0``: not acceptable), and the highest quality wins; ties go to the more specific range,
then to the one the client listed first, then to the renderers' order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.utils.mediatypes import _MediaType


def _quality(media_type: _MediaType) -> float:
    """The range's ``q`` (1 when absent or unreadable, as DRF reads it), within [0, 1]."""
    try:
        q = float(media_type.params.get("q", 1))
    except ValueError:
        return 1.0
    return min(max(q, 0.0), 1.0) if math.isfinite(q) else 1.0


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
            selected = self._preferred(request, matching or renderers)
        except NotAcceptable:
            if not matching:
                raise
            # The URL's explicit choice beats an Accept header that does not include it.
            return matching[0], str(matching[0].media_type)
        return selected

    def _preferred(
        self, request: Request, renderers: Sequence[BaseRenderer]
    ) -> tuple[BaseRenderer, str]:
        """The renderer the ``Accept`` header prefers, with the media type accepted."""
        accepts = [_MediaType(token) for token in self.get_accept_list(request)]
        best: tuple[tuple[float, int, int, int], BaseRenderer, _MediaType] | None = None
        for position, renderer in enumerate(renderers):
            own = _MediaType(renderer.media_type)
            ranges = [(index, a) for index, a in enumerate(accepts) if own.match(a)]
            if not ranges:
                continue
            # The most specific matching range decides (the client's first, among equals).
            index, accepted = max(ranges, key=lambda pair: (pair[1].precedence, -pair[0]))
            q = _quality(accepted)
            rank = (q, accepted.precedence, -index, -position)
            if q > 0 and (best is None or rank > best[0]):
                best = (rank, renderer, accepted)
        if best is None:
            raise NotAcceptable(available_renderers=renderers)
        _, renderer, accepted = best
        if _MediaType(renderer.media_type).precedence > accepted.precedence:
            # A wildcard was accepted (``*/*``): name the renderer's own type, as DRF does.
            params = tuple(f"{key}={value}" for key, value in accepted.params.items())
            return renderer, ";".join((str(renderer.media_type), *params))
        return renderer, accepted.orig
