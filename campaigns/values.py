"""Client values that Python accepts but the database cannot store (SPEC §7: refused with 400).

* **Ids beyond 64 bits.** Id columns are 64-bit integers; a larger id does not simply match
  nothing, it makes the driver fail (``OverflowError`` on SQLite), so it must be refused first.
* **Numbers beyond the float range.** Python's ``json`` reads ``1e400`` as ``inf``, which no
  JSON column stores (SQLite's ``JSON_VALID`` check and PostgreSQL's ``jsonb`` both refuse it).
  DRF's strict JSON parsing refuses only the literals ``NaN`` / ``Infinity``, and a parser could
  only refuse the whole body, while a batch must refuse just the item and name the field.
* **The NUL character**, which PostgreSQL's text and JSON cannot hold.
* **JSON nested deeper than ``MAX_JSON_DEPTH``.** Stored, it is read back by Python's
  recursive ``json`` wherever the row is loaded (a person's attributes in the admin, the goal
  engine), and a few hundred levels there overflow the interpreter's stack: a 500 on every later
  read of the row. (Bodies nested past the parser's own limit are ``campaigns.parsers``'.)

Pure functions, no ORM: ``campaigns.ingestion`` and ``goals.criteria`` call them where they
read each field, so the error names the field (``data.price``, ``criteria.trigger.segment``).
"""

from __future__ import annotations

import math
from typing import Any, Final

#: The largest value of a 64-bit id column (``BigAutoField``, the project's default).
MAX_ID: Final = 2**63 - 1

ID_ERROR: Final = "must be an integer id"
ID_RANGE_ERROR: Final = f"must be an integer id from 1 to {MAX_ID}"
NUL_ERROR: Final = "must not contain the NUL character (U+0000)"
NON_FINITE_ERROR: Final = "must be a finite number (at most about 1.8e308 either way)"
#: Objects and lists inside a stored JSON value, counted from the value itself.
MAX_JSON_DEPTH: Final = 64
DEPTH_ERROR: Final = f"must not nest objects and lists more than {MAX_JSON_DEPTH} levels deep"


def parse_id(value: Any) -> int:
    """The id of one of our rows from a client value: an integer from 1 to ``MAX_ID`` (a string
    of digits is read as one). Raises ``ValueError`` whose message is the reason, for the client.
    """
    if isinstance(value, str) and value.isascii() and value.strip().isdigit():
        try:
            value = int(value)
        except ValueError:  # over 4,300 digits: Python refuses to convert it, and it is too big
            raise ValueError(ID_RANGE_ERROR) from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(ID_ERROR)
    if value > MAX_ID:
        raise ValueError(ID_RANGE_ERROR)
    return value


def json_error(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """Where and why a parsed JSON value cannot be stored: ``(dotted path, reason)`` for the
    first string or key holding U+0000 (a key is reported at its object's path), number
    beyond the float range, or object or list nested deeper than ``MAX_JSON_DEPTH`` in
    ``value`` (reported at the path of the first one too deep); ``None`` when it can be
    stored."""
    if isinstance(value, str):
        return (path, NUL_ERROR) if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, NON_FINITE_ERROR)
    if isinstance(value, (dict, list)) and depth >= MAX_JSON_DEPTH:
        return (path, DEPTH_ERROR)
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return (path, NUL_ERROR)
            found = json_error(item, f"{path}.{key}", depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = json_error(item, f"{path}.{index}", depth + 1)
            if found is not None:
                return found
    return None
