"""Attribution in SQL: the set-based twins of ``goals.attribution.attribute``.

A whole version is credited while it is written (``_credit_sql``, used by ``build``): on
PostgreSQL, for goals with the default touch time, by a LATERAL join walking each person's
messages backwards through ``TOUCH_INDEX``; otherwise by an as-of join written with window
functions. A set of people is re-credited by one UPDATE per chunk whose correlated subquery
picks the best qualifying message (``attribute_achievements``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection

from campaigns import channels
from campaigns.models import Message
from goals import attribution
from goals.engine.evaluation import _chunks
from goals.engine.shards import BUILD_SESSION_SETTINGS, Shard, _shard_sql
from goals.engine.spec import TOUCH_COLUMN, GoalSpec
from goals.models import Achievement


def _touch_sql(spec: GoalSpec, alias: str) -> str:
    """Per channel, the ``reached_*`` column of message ``alias`` that holds the goal's touch
    time. Channel and column names come from ``campaigns.channels`` and this module, never
    from input, so they are inlined."""
    return _touch_sql_of(spec.settings, alias)


def _touch_sql_of(settings: attribution.AttributionSettings, alias: str) -> str:
    whens = []
    for channel in channels.CHANNELS:
        metric = settings.qualifying_metric(channel)
        column = f"{alias}.{TOUCH_COLUMN[(metric, settings.count_machine)]}"
        if metric == channels.SENT:
            column = f"COALESCE({column}, {alias}.sent_at)"
        whens.append(f"WHEN {alias}.channel = '{channel}' THEN {column}")
    # Written as Django writes ``Message.default_touch_time`` for its index (a searched CASE).
    return f"(CASE {' '.join(whens)} ELSE NULL END)"


#: Messages are indexed by person key and their touch time under the default attribution
#: settings (``Message.default_touch_time``: ``delivered`` where the channel has it, else
#: ``sent``; machine opens and clicks play no part in those). On PostgreSQL, goals whose
#: settings give the same touch time (most goals) are attributed through it
#: (``_lateral_credit_sql``).
TOUCH_INDEX = "message_person_touch_rank"


def _touch_indexed(spec: GoalSpec) -> bool:
    """Whether ``TOUCH_INDEX`` orders messages by this goal's touch time, on PostgreSQL (SQLite
    has the index too, which finds a person's messages, but no LATERAL join to walk it)."""
    default = attribution.AttributionSettings()
    return connection.vendor == "postgresql" and _touch_sql(spec, "c") == _touch_sql_of(
        default, "c"
    )


def _by_code_point() -> str:
    """The collation clause that orders text by code point: PostgreSQL's "C" collation
    compares UTF-8 bytes, which order as code points; SQLite's default BINARY collation does
    the same with none."""
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _delivery_rank_sql(alias: str, direction: str = "") -> str:
    """SQL order terms of ``attribution.delivery_rank`` for message ``alias``: the length of
    its delivery id, then the id by code point."""
    return f"LENGTH({alias}.client_id){direction}, {alias}.client_id{_by_code_point()}{direction}"


def _best_message_sql(spec: GoalSpec, outer: str) -> tuple[str, list[Any]]:
    """A correlated subquery: the id of the message credited with achievement row ``outer``
    (``_best_candidate_sql``)."""
    if not spec.campaign_ids and not spec.broadcast_ids:
        return "CAST(NULL AS BIGINT)", []
    sql, params = _best_candidate_sql(spec, outer, "c.id")
    return f"({sql})", params


def _best_candidate_sql(spec: GoalSpec, outer: str, select: str) -> tuple[str, list[Any]]:
    """``SELECT select`` of the message credited with achievement row ``outer``, if any.

    The SQL twin of ``goals.attribution.attribute``: the candidates are the person's
    non-anonymous messages from the goal's sources (deleted ones included) whose touch time is
    within [window_start, achieved_at]; the best is the latest touch, then the latest sent
    time, then the highest delivery id (``_delivery_rank_sql``). It finds the person's
    messages through ``TOUCH_INDEX``, and walks them backwards from the achievement to the
    window start when the goal's touch time is the indexed one. Channel and column names are
    inlined (they come from code); source ids are parameters.
    """
    touch = _touch_sql(spec, "c")
    in_sources, params = _sources_sql(spec, "c")
    sql = (
        f"SELECT {select} FROM {Message._meta.db_table} c"
        f" WHERE c.person_key = {outer}.person_key AND NOT c.anonymous AND {in_sources}"
        f" AND {touch} >= {outer}.window_start AND {touch} <= {outer}.achieved_at"
        f" ORDER BY {touch} DESC, c.sent_at DESC, {_delivery_rank_sql('c', ' DESC')}, c.id DESC"
        f" LIMIT 1"
    )
    return sql, params


def _credit_columns_sql(spec: GoalSpec, message: str) -> str:
    """The four attribution columns from the credited message row ``message`` (or NULLs)."""
    return (
        f"{message}.id, {_touch_sql(spec, message)}, {message}.campaign_id, {message}.broadcast_id"
    )


ATTRIBUTION_COLUMNS = ("message_id", "touch_at", "source_campaign_id", "source_broadcast_id")


def attribute_achievements(
    spec: GoalSpec, *, version: int, person_keys: Sequence[uuid.UUID] | None = None
) -> None:
    """Credit each achievement of the version (or of these people) to its last qualifying
    touch (``_best_message_sql``), in one UPDATE per goal or chunk of people."""
    achievements = Achievement._meta.db_table
    messages = Message._meta.db_table
    key_field = Achievement._meta.get_field("person_key")
    best, best_params = _best_message_sql(spec, achievements)
    for chunk in [None] if person_keys is None else _chunks(list(person_keys)):
        where = f"{achievements}.goal_id = %s AND {achievements}.version = %s"
        params: list[Any] = [spec.goal.pk, version]
        if chunk is not None:
            where += f" AND {achievements}.person_key IN ({', '.join(['%s'] * len(chunk))})"
            params += [key_field.get_db_prep_value(key, connection) for key in chunk]
        # A row-value assignment (PostgreSQL, SQLite >= 3.15): no matching message sets NULLs.
        sql = (
            f"UPDATE {achievements} SET ({', '.join(ATTRIBUTION_COLUMNS)}) = ("
            f"SELECT {_credit_columns_sql(spec, 'm')} FROM {messages} m WHERE m.id = {best}"
            f") WHERE {where}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, best_params + params)


def _sources_sql(spec: GoalSpec, alias: str) -> tuple[str, list[Any]]:
    """``alias`` is a message from one of the goal's sources (SQL and its parameters)."""
    clauses, params = [], []
    if spec.campaign_ids:
        clauses.append(f"{alias}.campaign_id IN ({', '.join(['%s'] * len(spec.campaign_ids))})")
        params += spec.campaign_ids
    if spec.broadcast_ids:
        clauses.append(f"{alias}.broadcast_id IN ({', '.join(['%s'] * len(spec.broadcast_ids))})")
        params += spec.broadcast_ids
    return f"({' OR '.join(clauses) or '1 = 0'})", params


#: ``_asof_credit_sql`` packs a touch's group number and a message, campaign or broadcast id
#: into one integer as ``group * _PACK + id``: ids stay below 2**40, group numbers (a person's
#: touches) below 2**23.
_PACK = 2**40


def _asof_credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any]]:
    """The staged achievements with their credit (``ATTRIBUTION_COLUMNS``: the credited
    message, its touch time and its campaign or broadcast, or NULLs), found by an as-of join
    written with window functions (PostgreSQL and SQLite >= 3.25 alike).

    The person's candidate touches and achievements are merged into one timeline ordered by
    time, touches before achievements at the same instant (a touch at A qualifies) and touches
    at one instant by sent time, then delivery id (the rule's tie-break: ``dl``, ``di``). A
    running count of touches numbers the groups, so each achievement shares its group with the
    latest touch at or before it, which is the best candidate; it is credited when that touch
    is inside the window. Each candidate message is read once, instead of once per
    achievement, and the touch carries the columns the credit needs, so no message is looked
    up again. Touches outside the span of their person's windows (the earliest window start to
    the latest achievement) can never be credited and are left out of the timeline: this often
    halves it.
    With ``shard``, only the staged people of that share (``_shard_sql``).
    """
    messages = Message._meta.db_table
    touch = _touch_sql(spec, "c")
    in_sources, params = _sources_sql(spec, "c")
    staged = ", ".join(f"s.{c}" for c in columns)
    empty = ", ".join(f"NULL AS {c}" for c in columns)
    timeline = (
        f"SELECT s.person_key AS p, s.achieved_at AS t, 1 AS k, NULL AS sent, NULL AS dl, "
        f"NULL AS di, NULL AS mid, NULL AS mc, NULL AS mb, {staged} FROM {staging} s "
        f"WHERE {_shard_sql('s', shard)} "
        f"UNION ALL "
        f"SELECT c.person_key, {touch}, 0, c.sent_at, LENGTH(c.client_id), c.client_id, c.id, "
        f"c.campaign_id, c.broadcast_id, {empty} FROM {messages} c "
        f"JOIN (SELECT person_key, MIN(window_start) AS lo, MAX(achieved_at) AS hi "
        f"FROM {staging} z WHERE {_shard_sql('z', shard)} GROUP BY person_key) r "
        f"ON r.person_key = c.person_key AND {touch} >= r.lo AND {touch} <= r.hi "
        f"WHERE NOT c.anonymous AND {in_sources} AND {_shard_sql('c', shard)}"
    )
    collate = _by_code_point()

    def order(a: str) -> str:
        return (
            f"PARTITION BY {a}.p ORDER BY {a}.t, {a}.k, {a}.sent, {a}.dl, {a}.di{collate}, {a}.mid "
            f"ROWS UNBOUNDED PRECEDING"
        )

    grouped = (
        f"SELECT u.*, COUNT(u.mid) OVER w AS grp, MAX(CASE WHEN u.k = 0 THEN u.t END) OVER w "
        f"AS best_t FROM ({timeline}) u WINDOW w AS ({order('u')})"
    )
    # The latest touch's columns, by a running MAX of (group number, value) packed in one
    # integer: group numbers only grow along the timeline. The second window orders rows as
    # the first one did, so the database reuses that order instead of sorting again.
    packed = ", ".join(
        f"MAX(CASE WHEN g.k = 0 THEN g.grp * {_PACK} + COALESCE(g.{value}, 0) END) OVER w AS {name}"
        for value, name in (("mid", "best"), ("mc", "best_c"), ("mb", "best_b"))
    )
    best = f"SELECT g.*, {packed} FROM ({grouped}) g WINDOW w AS ({order('g')})"
    inside = "h.best_t >= h.window_start"
    credit = ", ".join(
        f"CASE WHEN {inside} THEN {value} END AS {name}"
        for value, name in zip(
            (f"h.best %% {_PACK}", "h.best_t", f"NULLIF(h.best_c %% {_PACK}, 0)",
             f"NULLIF(h.best_b %% {_PACK}, 0)"),
            ATTRIBUTION_COLUMNS,
            strict=True,
        )
    )  # fmt: skip
    sql = f"SELECT {', '.join('h.' + c for c in columns)}, {credit} FROM ({best}) h WHERE h.k = 1"
    return sql, params


def _lateral_credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any]]:
    """The staged achievements with their credit, as ``_asof_credit_sql`` gives them, found
    for each achievement by walking its person's messages backwards through ``TOUCH_INDEX``
    from the achievement to the window start (``_best_candidate_sql`` in a LATERAL join).
    PostgreSQL only, for goals whose touch time is the indexed one (``_touch_indexed``): each
    achievement reads only the few index entries inside its window, where the as-of join
    sorts every candidate touch with the achievements (on 292,000 achievements against 1.6
    million messages, on one connection: 2.4 s against 4.5 s)."""
    best, params = _best_candidate_sql(
        spec,
        "s",
        f"c.id, {_touch_sql(spec, 'c')} AS touch_at, c.campaign_id, c.broadcast_id",
    )
    staged = ", ".join(f"s.{c}" for c in columns)
    # Achievements in person order, whatever the staging's (a sort in the build session's
    # memory): the walk visits each person's part of the index once, in order, and writes the
    # result in person order, which its indexes and rollup (sorting by person) find sorted.
    # On the bench goal (292,000 achievements, two connections) sorting costs 0.05 s and
    # saves 0.3-0.5 s in those steps (A/B, four runs each).
    sql = (
        f"SELECT {staged}, b.id, b.touch_at, b.campaign_id, b.broadcast_id FROM "
        f"(SELECT * FROM {staging} s WHERE {_shard_sql('s', shard)} "
        f"ORDER BY s.person_key, s.achieved_at) s LEFT JOIN LATERAL ({best}) b ON TRUE"
    )
    return sql, params


def _credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any], dict[str, str]]:
    """The staged achievements with their credit (``ATTRIBUTION_COLUMNS``), by the fastest
    way this goal allows, and the session settings it runs best under."""
    if _touch_indexed(spec):
        sql, params = _lateral_credit_sql(spec, staging, columns, shard=shard)
        return sql, params, LATERAL_SESSION_SETTINGS
    sql, params = _asof_credit_sql(spec, staging, columns, shard=shard)
    return sql, params, BUILD_SESSION_SETTINGS


#: And for the LATERAL join of ``_lateral_credit_sql``, whose sort of the staged rows needs the
#: memory too: every achievement probes the index with its own person and time, so memoizing
#: probes (the planner's default) only costs.
LATERAL_SESSION_SETTINGS = {**BUILD_SESSION_SETTINGS, "enable_memoize": "off"}
