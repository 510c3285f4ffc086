"""Parsing API timestamps: ISO 8601 with an offset, or Unix seconds (SPEC §7).

A naive ISO string ("2025-11-01T10:00:00") is rejected rather than guessed: whether it meant
UTC or the workspace's zone changes which local day an achievement lands on and which messages
fall in its attribution window, so the client must say. Unix seconds are JSON numbers (an int
or a float with a fraction); a numeric *string* is read as ISO 8601, never as seconds, so
"2025" cannot silently mean 1970. A JSON ``true``/``false`` is not a number (``bool`` is a
subclass of ``int`` in Python, hence the explicit check).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

NAIVE_ERROR = (
    "must include a UTC offset (e.g. 2025-11-01T10:00:00Z or 2025-11-01T10:00:00+01:00); "
    "a time without an offset is ambiguous"
)
FORMAT_ERROR = "must be an ISO 8601 date-time with an offset, or Unix seconds"
RANGE_ERROR = "is out of range"
#: The instants every time zone has a local date for: a day inside the calendar's ends (a UTC
#: offset is less than a day). 9999-12-31T23:30Z is 10000-01-01 in Berlin, which no date holds.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


class TimestampError(ValueError):
    """The value is not a timestamp the API accepts; ``str(exc)`` is the reason for the client."""


def parse_timestamp(value: Any) -> datetime:
    """An aware UTC datetime from an API value, or ``TimestampError`` saying why not."""
    if isinstance(value, bool):
        raise TimestampError(FORMAT_ERROR)
    if isinstance(value, (int, float)):
        parsed = _from_unix_seconds(value)
    elif isinstance(value, str):
        parsed = _from_iso(value)
    else:
        raise TimestampError(FORMAT_ERROR)
    if not EARLIEST <= parsed <= LATEST:
        raise TimestampError(RANGE_ERROR)
    return parsed


def _from_unix_seconds(value: float) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise TimestampError(FORMAT_ERROR)
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        # The usual cause is milliseconds sent where seconds are expected.
        raise TimestampError(
            "is out of range for Unix seconds (milliseconds? divide by 1000)"
        ) from None


def _from_iso(value: str) -> datetime:
    text = value.strip()
    if not text:
        raise TimestampError(FORMAT_ERROR)
    if text.endswith("z"):
        # RFC 3339 (§5.6) allows a lower-case "z" (and "t", which fromisoformat takes).
        text = text[:-1] + "Z"
    try:
        # Python 3.11's fromisoformat reads ISO 8601 including "Z" and basic formats.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(FORMAT_ERROR) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimestampError(NAIVE_ERROR)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise TimestampError(RANGE_ERROR) from None
