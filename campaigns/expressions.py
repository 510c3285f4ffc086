"""Database expressions the models' indexes need (importable by migrations)."""

from __future__ import annotations

from typing import Any

from django.db.models import Func


class ByCodePoint(Func):
    """Text ordered by code point: PostgreSQL's "C" collation compares UTF-8 bytes, which order
    as code points; SQLite's default (BINARY) collation already does, and knows no "C".
    (Not a ``Collate``: an index takes Django's own only as the outermost expression.)"""

    template = '%(expressions)s COLLATE "C"'
    arity = 1

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return compiler.compile(self.get_source_expressions()[0])
