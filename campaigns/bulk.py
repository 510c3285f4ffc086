"""Bulk inserts of plain rows: ``COPY`` on PostgreSQL, batched ``executemany`` on SQLite.

Django's ``bulk_create`` spends ~35 µs per row preparing model instances; at millions of rows
(the demo seed) or hundreds of thousands (a goal recompute) that dominates. ``RowInserter``
takes plain tuples instead and streams them to the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from itertools import islice
from typing import Any, TypeVar

from django.db import connection, models

#: Rows per ``executemany`` on SQLite.
BATCH_SIZE = 5000

T = TypeVar("T")


def _identity(value: Any) -> Any:
    return value


def _to_json(value: Any) -> Any:
    return None if value is None else json.dumps(value)


def _to_uuid_hex(value: Any) -> Any:
    return None if value is None else value.hex


def _to_sqlite_datetime(value: Any) -> Any:
    # What Django's SQLite backend stores: naive UTC in str() format.
    if value is None:
        return None
    return str(value.astimezone(UTC).replace(tzinfo=None))


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` (a stream) in lists of ``size``, holding one list at a time
    (``itertools.batched`` from Python 3.12, as lists)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field) and found.concrete, f"{name} is not a column"
    return found


def _column(f: models.Field[Any, Any]) -> str:
    assert f.column is not None
    return f.column


class RowInserter:
    """Insert plain tuples (values in ``field_names`` order) into ``model``'s table in bulk.

    Values are Python values as the model would hold them (aware datetimes, UUIDs, dicts for
    JSON, ids for foreign keys). Concrete fields not named get their default, evaluated once per
    call, so a column added later with a default does not break the seed; a new NOT NULL column
    without one, or a unique one, fails loudly here instead.
    """

    def __init__(
        self, model: type[models.Model], field_names: Sequence[str], *, table: str = ""
    ) -> None:
        meta = model._meta
        self.model = model
        self.fields = [_concrete_field(model, name) for name in field_names]
        named = set(field_names)
        # A staging ``table`` holds just the named columns; the model's table gets defaults.
        self.defaults = [
            f
            for f in meta.concrete_fields
            if not table and not f.primary_key and f.name not in named
        ]
        for f in self.defaults:
            if f.unique or not (f.has_default() or f.null):
                raise ValueError(f"{meta.label}.{f.name} needs a value per row")
        quote = connection.ops.quote_name
        self.table = quote(table or meta.db_table)
        self.columns = ", ".join(quote(_column(f)) for f in [*self.fields, *self.defaults])
        self.postgres = connection.vendor == "postgresql"
        self.converters = [self._converter(f) for f in [*self.fields, *self.defaults]]

    def _converter(self, f: models.Field[Any, Any]) -> Callable[[Any], Any]:
        kind = f.get_internal_type()
        if kind == "JSONField":
            return _to_json
        if self.postgres:
            return _identity  # psycopg adapts datetimes, UUIDs and booleans itself
        if kind == "DateTimeField":
            return _to_sqlite_datetime
        if kind == "UUIDField":
            return _to_uuid_hex
        if kind in {"CharField", "BooleanField", "ForeignKey", "BigIntegerField", "IntegerField"}:
            return _identity
        return lambda value: f.get_db_prep_save(value, connection)

    def insert(self, rows: Iterable[tuple[Any, ...]]) -> int:
        defaults = tuple(f.get_default() for f in self.defaults)
        convert = self.converters
        if all(c is _identity for c in convert):
            prepared: Iterable[Sequence[Any]] = (row + defaults for row in rows)
        else:
            prepared = (
                [c(v) for c, v in zip(convert, row + defaults, strict=True)] for row in rows
            )
        count = 0
        with connection.cursor() as cursor:
            if self.postgres:
                copy_sql = f"COPY {self.table} ({self.columns}) FROM STDIN"
                # psycopg's own cursor: its errors raised as Django's (IntegrityError, ...).
                with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
                    for values in prepared:
                        copy.write_row(values)
                        count += 1
            else:
                marks = ", ".join(["%s"] * len(convert))
                sql = f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})"
                for batch in batched(prepared, BATCH_SIZE):
                    cursor.executemany(sql, batch)
                    count += len(batch)
        return count
