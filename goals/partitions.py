"""Achievements on PostgreSQL: one partition per goal result.

``goals_achievement`` is partitioned by range of ``(goal_id, version)`` (migration 0008): each
result a recompute builds is its own table (``goals_achievement_<goal>_<version>``), and rows of
a result without one (never the engine's own) land in ``goals_achievement_default``. Readers
and the incremental engine read and write the parent table as before; PostgreSQL routes rows
and prunes partitions by the goal and version every query names.

A recompute (``engine.build_attributed``) loads its rows into a new, unattached table with no
index (``create_leaf``), builds each of its own indexes in one pass (``leaf_indexes``: about
three times cheaper than maintaining the indexes row by row on a large shared table), then
attaches it
(``attach_leaf``); replacing a result drops its table (``drop_other_results``) instead of
deleting its rows one by one, which also leaves no dead rows for vacuum to clean. Dropping a
partition locks the whole parent table for an instant, so it waits at most
``DROP_LOCK_TIMEOUT``; a table it could not drop then is dropped by ``engine.reconcile``.

SQLite keeps one plain table: nothing here is called there.
"""

from __future__ import annotations

import logging
import re

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


#: A result table's own indexes: name suffix, UNIQUE or not, key. A result table holds one
#: (goal, version), so its keys leave those two columns out (the parent has no index: each
#: partition has its own, migration 0010). Sorting two constant columns before every key cost
#: a recompute 0.25 s of its 0.64 s of index building on 292,000 rows. Largest first, so that
#: spreading them over connections in turn balances the work. ``goals.models.Achievement``'s
#: Meta states the same indexes with the goal and version (SQLite's one table, and
#: ``DEFAULT``, holding any result's rows).
LEAF_INDEXES = (
    # The achievement list's order (``selectors.achievement_list``).
    ("time", "", "(achieved_at, id)"),
    # A person's trigger: unique; incremental updates' ``ON CONFLICT DO NOTHING`` meets it,
    # and lookups by person use it. Led by the person, in whose order a result is written.
    ("trigger", "UNIQUE", "(person_key, trigger_id, trigger_kind)"),
    ("id", "UNIQUE", "(id)"),
)


def leaf_indexes(goal_id: int, version: int) -> list[str]:
    """The ``CREATE INDEX`` statements of ``LEAF_INDEXES`` for the result table of
    ``(goal_id, version)``."""
    leaf = leaf_name(goal_id, version)
    return [
        f"CREATE {unique}{' ' if unique else ''}INDEX {leaf}_{suffix} ON {leaf} {key}"
        for suffix, unique, key in LEAF_INDEXES
    ]


def attach_leaf(goal_id: int, version: int) -> None:
    """Attach a loaded and indexed (``leaf_indexes`` run) result table as the partition of
    ``(goal_id, version)``.

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
