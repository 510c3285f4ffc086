"""``manage.py seed_demo``: a realistic demo workspace (and benchmark data set).

Idempotent by workspace name: when the workspace exists the command says so and changes
nothing. To rebuild, pass another ``--workspace-name`` or start from a fresh database.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns import demo
from campaigns.errors import DomainError


class Command(BaseCommand):
    help = (
        "Generate a demo workspace: people, events, attribute and segment history, campaigns, "
        "broadcasts, messages and metrics over the last DAYS days (never before "
        "GOALS_TRACKING_START). Running it again with the same name does nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=2000, help="people (default 2000)")
        parser.add_argument("--days", type=int, default=60, help="days of history (default 60)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--workspace-name",
            default=demo.DEFAULT_WORKSPACE_NAME,
            help=f"name of the demo workspace (default {demo.DEFAULT_WORKSPACE_NAME!r})",
        )

        parser.add_argument(
            "--no-goals", dest="goals", action="store_false", help="don't create demo goals"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["workspace_name"]
        self.stdout.write(
            f"Seeding {name!r}: {options['people']:,} people over {options['days']} days "
            f"(seed {options['seed']})…"
        )
        try:
            result = demo.seed_demo(
                people=options["people"],
                days=options["days"],
                seed=options["seed"],
                workspace_name=name,
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(
                "; ".join(f"--{k}: {', '.join(v)}" for k, v in exc.errors.items())
            ) from exc
        workspace = result.workspace
        if not result.created:
            self.stdout.write(
                f"Workspace {workspace.name!r} (id {workspace.pk}) already exists; nothing "
                "was changed. Use --workspace-name to seed another one."
            )
            # `make run` runs this every time: the login is printed on every run, not only on
            # the first one (whose output scrolled away).
            login = demo.demo_login(workspace)
            if login:
                self.stdout.write(login)
            return
        assert result.start is not None and result.end is not None
        if options["goals"]:
            from goals.demo import demo_goals  # goals build on the messaging data

            goals = demo_goals(workspace=workspace)
            self.stdout.write(
                f"Created {len(goals)} demo goals: {', '.join(g.name for g in goals)}"
            )
        self.stdout.write(
            f"Created workspace {workspace.name!r} (id {workspace.pk}, {workspace.time_zone}) "
            f"with data from {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC "
            f"in {result.seconds:.1f}s:"
        )
        for kind, count in result.counts.items():
            self.stdout.write(f"  {kind:<18} {count:>12,}")
        if result.user_created:
            self.stdout.write(
                f"Log in at /goals/ (the admin is at /admin/) as {demo.DEMO_USERNAME!r} with "
                f"password {demo.DEMO_PASSWORD!r} (an admin of this workspace)."
            )
        else:
            self.stdout.write(
                f"User {demo.DEMO_USERNAME!r} already existed (password unchanged); it is an "
                "admin of this workspace."
            )
