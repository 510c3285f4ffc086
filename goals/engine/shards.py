"""How a large build on PostgreSQL spreads its people over several connections working at
once (``_shards``, ``_shard_sql``, ``_on_shards``), and the session settings its big
statements run under (``_build_session``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings as django_settings
from django.db import connection

T = TypeVar("T")


#: PostgreSQL session settings for a build's big statements. The as-of sort of a large goal
#: (achievements merged with their people's messages) spills to disk under the default 4MB of
#: work_mem and runs about twice as long; JIT compiling the statement costs more (~0.7 s) than
#: it saves. Bounded per sort by the setting, whatever the number of messages.
BUILD_SESSION_SETTINGS = {"work_mem": "256MB", "jit": "off"}


@contextmanager
def _build_session(settings: dict[str, str] = BUILD_SESSION_SETTINGS) -> Iterator[None]:
    """Apply ``settings`` on PostgreSQL for the duration of a build step."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    try:
        yield
    except BaseException:
        # In a failed transaction RESET would fail too (masking the error), and the rollback
        # undoes the settings anyway; in autocommit they must still be reset.
        if connection.in_atomic_block:
            raise
        _reset_build_session(settings)
        raise
    _reset_build_session(settings)


def _reset_build_session(settings: dict[str, str]) -> None:
    with connection.cursor() as cursor:
        for name in settings:
            cursor.execute(f"RESET {name}")


#: ``(index, count)``: the share of a build's people one connection handles (None: everyone).
Shard = tuple[int, int] | None


#: Below this many achievements a build runs on one connection: splitting it would save less
#: than the connections cost.
SHARD_MIN_ROWS = 20_000


def _shards(rows: int) -> int:
    """How many connections a build of ``rows`` achievements is spread over: up to
    ``GOALS_BUILD_CONNECTIONS`` on PostgreSQL when it is large, else one. Never inside a
    transaction, whose uncommitted rows other connections could not see."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or rows < SHARD_MIN_ROWS:
        return 1
    return max(1, int(django_settings.GOALS_BUILD_CONNECTIONS))


def _shard_sql(alias: str, shard: Shard) -> str:
    """A condition keeping the rows of ``alias`` whose person falls in ``shard`` (PostgreSQL
    only): a range of person keys by their first byte (random in version 4 keys), so each
    person's rows land in one share, and each share writes its own part of the indexes that
    lead with the person (no two connections contending for the same index pages)."""
    if shard is None:
        return "1 = 1"
    index, count = shard

    def bound(share: int) -> str:
        return str(uuid.UUID(bytes=bytes([256 * share // count]) + bytes(15)))

    # Plain comparisons (no function per row), so that they may also filter messages early.
    lower = f"{alias}.person_key >= '{bound(index)}'"
    return lower if index == count - 1 else f"{lower} AND {alias}.person_key < '{bound(index + 1)}'"


def _on_shards(count: int, work: Callable[[Shard], T]) -> list[T]:
    """``work`` for each share of ``count``, at the same time, each on its own database
    connection (a thread's own); or once, for everyone, on this one."""
    if count == 1:
        return [work(None)]

    def run(index: int) -> T:
        try:
            return work((index, count))
        finally:
            connection.close()  # this thread's connection

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="goals-build") as pool:
        return list(pool.map(run, range(count)))
