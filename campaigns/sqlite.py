"""SQLite's text comparisons, made to fold the case of every letter as PostgreSQL does.

SQLite's ``LIKE`` (Django's ``iexact``, ``icontains``, search) and ``lower()`` (names sorted
case-insensitively) fold A-Z alone: ``?tag=ärger`` missed "Ärger", ``?name=émile`` missed
"Émile", though the same lists on PostgreSQL found them and tags are told apart
case-insensitively in Python (``str.casefold``). SQLite lets an application replace both
functions per connection; these do what SQLite's do, with Python's Unicode case rules.
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _like_pattern(pattern: str, escape: str | None) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape:
            parts.append(re.escape(next(chars, "")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def like(pattern: Any, value: Any, escape: Any = None) -> int | None:
    """``value LIKE pattern [ESCAPE escape]``: SQLite passes the pattern first."""
    if pattern is None or value is None:
        return None
    if escape is not None and len(_text(escape)) != 1:
        raise ValueError("ESCAPE expression must be a single character")
    escape_char = None if escape is None else _text(escape)
    return int(_like_pattern(_text(pattern), escape_char).fullmatch(_text(value)) is not None)


def lower(value: Any) -> Any:
    return None if value is None else _text(value).lower()


def install(connection: sqlite3.Connection) -> None:
    connection.create_function("like", 2, like, deterministic=True)
    connection.create_function("like", 3, like, deterministic=True)
    connection.create_function("lower", 1, lower, deterministic=True)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: install the functions on every new SQLite connection."""
    if connection.vendor == "sqlite":
        install(connection.connection)
