"""The API's JSON parser: DRF's, refusing two bodies Python's ``json`` reads without complaint
but that no view could answer (both were 500s), with a 400 naming ``body`` as every other
unparsable body (``campaigns.errors.exception_handler``):

* **Nesting deeper than Python's recursion limit** (about 1,000 levels): ``json`` raises
  ``RecursionError``. Its recursion counts against the stack the request already uses, so a
  body that fails to parse there is parsed again on a thread of its own (``_parse_on_fresh_stack``):
  what parses does not depend on how many middleware or view frames are below the parser,
  and values nested deeper than ``values.MAX_JSON_DEPTH`` still get their 400 naming their
  path.
* **A lone UTF-16 surrogate escape** (``"\\ud800"`` without its pair): valid JSON syntax that
  Python reads as a ``str`` holding a code point no UTF-8 encoder writes, so the database driver
  (SQLite and PostgreSQL alike) or the response fails on it. It is not a Unicode character, so
  like the literals ``NaN`` and ``Infinity`` it refuses the whole body, batch included
  (docs/decisions.md). A surrogate *pair* is one character and is kept.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A ``\u`` escape of a surrogate (D800-DFFF), possibly part of a valid pair; only a body that
# has one is walked for lone ones (the common body pays one regex scan).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            data = self._parse_on_fresh_stack(raw, media_type, parser_context)
        if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a \\u escape is a lone UTF-16 surrogate (D800-DFFF), "
                "which is not a Unicode character; a character beyond U+FFFF is escaped as "
                "its surrogate pair"
            )
        return data

    def _parse_on_fresh_stack(self, raw: bytes, media_type: Any, parser_context: Any) -> Any:
        """Parse ``raw`` on a new thread, whose recursion count starts at zero (a body only
        gets here when it is nested hundreds of levels deep)."""

        def parse() -> Any:
            return super(JSONParser, self).parse(io.BytesIO(raw), media_type, parser_context)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="json-parse") as pool:
            try:
                return pool.submit(parse).result()
            except RecursionError:
                raise ParseError("JSON parse error - the body is nested too deeply") from None
