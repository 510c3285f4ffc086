"""Grow a seeded workspace to the size issue 3 measures a recompute at (PostgreSQL only).

``seed_demo --people 100000 --days 90`` makes about 1.57 million messages. This adds copies of
random messages of the workspace, each shifted by up to 48 hours either way, until it has
``--messages`` (default 2,000,000), and copies of random ``--from-event`` events under a new
name, ``--event``, until there are ``--achievements`` of them (default 200,000): a goal on
that event (``bench_goals --event bench_achieved``) then has that many achievements to credit
against that many messages. Copies keep their person, channel, source and the times their
metrics reached (shifted alike); no metric rows are copied, so only recomputes, which read
those times, see them as reached. Deterministic for a ``--seed``; running it again adds only
what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from campaigns.models import Event, Message
from goals.bench import bench_workspace


class Command(BaseCommand):
    help = "Grow the benchmark workspace to N messages and M events of a new name (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="workspace name (default: the largest one)")
        parser.add_argument("--messages", type=int, default=2_000_000)
        parser.add_argument("--achievements", type=int, default=200_000)
        parser.add_argument("--event", default="bench_achieved", help="the copies' event name")
        parser.add_argument("--from-event", default="session_started", help="events to copy")
        parser.add_argument("--seed", type=float, default=0.3, help="-1 to 1 (setseed)")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_scale needs PostgreSQL: set DATABASE_URL")
        workspace = bench_workspace(options["workspace"])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [options["seed"]])
            messages = self._grow(
                cursor,
                Message,
                workspace.pk,
                options["messages"],
                where="TRUE",
                params=[],
                copy=_message_copy,
            )
            events = self._grow(
                cursor,
                Event,
                workspace.pk,
                options["achievements"],
                where="t.name = %s",
                params=[options["event"]],
                source=("t.name = %s", [options["from_event"]]),
                copy=_event_copy,
                copy_params=[options["event"]],
            )
        with connection.cursor() as cursor:
            for model in (Message, Event):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(
            f"workspace {workspace.name}: {messages:,} messages, "
            f"{events:,} {options['event']} events"
        )

    def _grow(
        self,
        cursor: Any,
        model: type[models.Model],
        workspace_id: int,
        target: int,
        *,
        where: str,
        params: list[Any],
        copy: Callable[[models.Field[Any, Any]], str],
        copy_params: Sequence[Any] = (),
        source: tuple[str, list[Any]] | None = None,
    ) -> int:
        """Add copies of random rows of ``model`` (those matching ``source``, else any) until
        the workspace has ``target`` rows matching ``where``; returns how many it has. ``copy``
        gives the SQL of a copy's column from the row ``c`` (its placeholders take
        ``copy_params``)."""
        table = model._meta.db_table
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(str(f.column) for f in fields)
        values = ", ".join(copy(f) for f in fields)
        from_where, from_params = source or ("TRUE", [])
        while True:
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} t WHERE t.workspace_id = %s AND {where}",
                [workspace_id, *params],
            )
            (have,) = cursor.fetchone()
            if have >= target:
                return int(have)
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            (base,) = cursor.fetchone()
            # The shift and the copy number per row: volatile, so computed for each one.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {values} FROM ("
                f"SELECT t.*, make_interval(hours => (floor(random() * 97) - 48)::int) AS shift, "
                f"%s + row_number() OVER () AS copy_no FROM {table} t "
                f"WHERE t.workspace_id = %s AND {from_where} ORDER BY random() LIMIT %s) c",
                [*copy_params, base, workspace_id, *from_params, target - have],
            )
            if cursor.rowcount == 0:
                raise CommandError(f"nothing to copy into {table}: seed the workspace first")


def _message_copy(field: models.Field[Any, Any]) -> str:
    """A message copy's value of ``field``: a new delivery id, times shifted alike."""
    if field.name == "client_id":
        return "c.client_id || '-copy' || c.copy_no"
    if isinstance(field, models.DateTimeField) and field.name != "received_at":
        return f"c.{field.column} + c.shift"
    return f"c.{field.column}"


def _event_copy(field: models.Field[Any, Any]) -> str:
    """An event copy's value of ``field``: the new name (the parameter), no client id."""
    if field.name == "name":
        return "%s"
    if field.name == "client_id":
        return "NULL"
    return f"c.{field.column}"
