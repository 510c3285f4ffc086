"""Achievements on PostgreSQL: one partition per goal result.

``goals_achievement`` is partitioned by range of ``(goal_id, version)`` (migration 0008): each
result a recompute builds is its own table (``goals_achievement_<goal>_<version>``), and rows of
a result without one (never the engine's own) land in ``goals_achievement_default``. Readers
and the incremental engine read and write the parent table as before; PostgreSQL routes rows
and prunes partitions by the goal and version every query names.

A recompute (``engine.build_attributed``) loads its rows into a new, unattached table with no
index (``create_leaf``), indexes it in one pass each (``leaf_indexes``: about three times
cheaper than maintaining the indexes row by row on a large shared table), then attaches it
(``attach_leaf``); replacing a result drops its table (``drop_other_results``) instead of
deleting its rows one by one, which also leaves no dead rows for vacuum to clean. Dropping a
partition locks the whole parent table for an instant, so it waits at most
``DROP_LOCK_TIMEOUT``; a table it could not drop then is dropped by ``engine.reconcile``.

SQLite keeps one plain table: nothing here is called there.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

PARENT = "goals_achievement"
DEFAULT = f"{PARENT}_default"
LEAF = re.compile(rf"^{PARENT}_([0-9]+)_([0-9]+)$")
#: How long dropping a replaced result's table may wait for the parent table's lock (readers
#: of any goal's achievements hold it while they run).
DROP_LOCK_TIMEOUT = "2s"
#: ``default_statistics_target`` of a new result's first ANALYZE (``attach_leaf``): 3,000 rows
#: sampled, enough for the planner to see the table's size and the spread of its columns.
ANALYZE_SAMPLE_TARGET = 10


def leaf_name(goal_id: int, version: int) -> str:
    return f"{PARENT}_{int(goal_id)}_{int(version)}"


def create_leaf(goal_id: int, version: int) -> str:
    """A new, empty, unattached table for a result, shaped like the parent (columns,
    defaults, the id sequence, checks), without indexes; leftovers of the same result (a build
    that died) are dropped first. Its own check holds its rows to the result's goal and
    version, which proves the partition's bounds: attaching it then skips the scan that
    checks every row (35 ms on 292,000 rows, with the parent locked)."""
    leaf = leaf_name(goal_id, version)
    if not drop_result(goal_id, version):
        raise RuntimeError(f"{leaf} is left from an earlier build and could not be dropped yet")
    with connection.cursor() as cursor:
        bound = f"goal_id = {int(goal_id)} AND version = {int(version)}"
        cursor.execute(
            f"CREATE TABLE {leaf} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            f"CONSTRAINT {leaf}_bound CHECK ({bound}))"
        )
    return leaf


@dataclass(frozen=True)
class LeafIndexes:
    """What gives a result table the parent's indexes: one ``CREATE INDEX`` each (largest
    first, so that spreading them over connections in turn balances the work), then the
    constraint clauses that make the primary key and unique indexes constraints, as the
    parent's are (attaching adopts an index only when it matches in that too)."""

    creates: list[str]
    constraints: list[str]


def leaf_indexes(goal_id: int, version: int) -> LeafIndexes:
    """The parent's indexes, as ``LeafIndexes`` of the result table of ``(goal_id, version)``."""
    leaf = leaf_name(goal_id, version)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid), c.contype FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
            "WHERE x.indrelid = %s::regclass ORDER BY x.indnatts DESC, i.relname",
            [PARENT],
        )
        indexes = cursor.fetchall()
    creates, constraints = [], []
    for number, (name, definition, kind) in enumerate(indexes):
        own = f"{leaf}_{number}"
        # "CREATE [UNIQUE] INDEX name ON ONLY public.goals_achievement USING btree (...)"
        head, _, rest = definition.partition(f" INDEX {name} ON ONLY ")
        creates.append(f"{head} INDEX {own} ON {leaf} USING {rest.split(' USING ', 1)[1]}")
        if kind == "p":
            constraints.append(f"ADD CONSTRAINT {own} PRIMARY KEY USING INDEX {own}")
        elif kind == "u":
            constraints.append(f"ADD CONSTRAINT {own} UNIQUE USING INDEX {own}")
    return LeafIndexes(creates, constraints)


def attach_leaf(goal_id: int, version: int, indexes: LeafIndexes) -> None:
    """Attach a loaded and indexed (``indexes.creates`` run) result table as the partition of
    ``(goal_id, version)``; the attachment adopts its indexes instead of building them again.

    The table is analyzed first, from a small sample (``ANALYZE_SAMPLE_TARGET``): autovacuum
    would take a minute or more to get to it (and may be off), and without statistics the
    planner takes a result of 292,000 rows for a few, and sorts all of them to answer a page
    of the achievement list (80 ms against 0.3 ms). The sample costs 20 ms instead of 130 ms
    for the default one; autovacuum refines it later."""
    leaf = leaf_name(goal_id, version)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('default_statistics_target', %s, false)",
            [str(ANALYZE_SAMPLE_TARGET)],
        )
        # Not reset on an error: a failed transaction undoes the setting, and otherwise it
        # only sizes this connection's later ANALYZE commands (none).
        cursor.execute(f"ANALYZE {leaf}")
        cursor.execute("RESET default_statistics_target")
        if indexes.constraints:
            cursor.execute(f"ALTER TABLE {leaf} {', '.join(indexes.constraints)}")
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {leaf} FOR VALUES FROM (%s, %s) TO (%s, %s)",
            [goal_id, version, goal_id, version + 1],
        )


def leaves() -> list[tuple[str, int, int]]:
    """Every result table (attached or not): (name, goal id, version)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename ~ %s",
            [LEAF.pattern],
        )
        names = [name for (name,) in cursor.fetchall()]
    found = []
    for name in names:
        match = LEAF.match(name)
        if match:
            found.append((name, int(match[1]), int(match[2])))
    return found


def drop_leaf(leaf: str) -> bool:
    """Drop a result table, or give up (False) when the parent table's lock is not had within
    ``DROP_LOCK_TIMEOUT``. Inside a transaction the attempt runs in a savepoint, so giving up
    leaves the transaction usable."""
    if not LEAF.match(leaf):
        raise ValueError(f"not a result table: {leaf}")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [DROP_LOCK_TIMEOUT])
            cursor.execute(f"DROP TABLE IF EXISTS {leaf}")
    except OperationalError as error:  # lock_timeout: readers held the parent table
        logger.info("result table %s not dropped yet (%s); reconcile will", leaf, error)
        return False
    return True


def drop_result(goal_id: int, version: int) -> bool:
    """Drop one result's table and delete its rows in the default partition; False when the
    table could not be dropped now (``drop_leaf``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {DEFAULT} WHERE goal_id = %s AND version = %s", [goal_id, version]
        )
    return drop_leaf(leaf_name(goal_id, version))


def drop_other_results(goal_id: int, *, keep: int) -> int:
    """Drop a goal's result tables, and delete its rows in the default partition, of every
    version but ``keep``. Returns how many tables could not be dropped now."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {DEFAULT} WHERE goal_id = %s AND version <> %s", [goal_id, keep]
        )
    return sum(not drop_leaf(name) for name, version in _goal_leaves(goal_id) if version != keep)


def drop_goal_results(goal_id: int) -> None:
    """Drop every result table of a goal (being deleted, or deleted), so its rows need not be
    deleted one by one; a table not dropped now is left to reconcile."""
    for name, _version in _goal_leaves(goal_id):
        drop_leaf(name)


def _goal_leaves(goal_id: int) -> list[tuple[str, int]]:
    """A goal's result tables: (name, version)."""
    return [(name, version) for name, goal, version in leaves() if goal == goal_id]
