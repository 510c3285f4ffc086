"""``manage.py create_workspace NAME [--time-zone TZ] [--owner USERNAME]`` (SPEC §7).

Creates the workspace, makes the owner its admin, and issues an admin API token whose secret is
the last line of the output, so scripts can capture it with ``tail -n 1``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from campaigns import services
from campaigns.models import Role

TOKEN_NAME = "Initial admin token (create_workspace)"


class Command(BaseCommand):
    help = (
        "Create a workspace, make --owner its admin, and print a new admin API token for it "
        "as the last line of output (shown once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the workspace's name")
        parser.add_argument(
            "--time-zone",
            default="UTC",
            help="IANA time zone for report days and weeks (default UTC), e.g. Europe/Berlin",
        )
        parser.add_argument("--owner", help="username of an existing user to make admin")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("NAME must not be blank")
        owner = None
        if options["owner"]:
            user_model = get_user_model()
            try:
                owner = user_model.objects.get(username=options["owner"])
            except user_model.DoesNotExist:
                raise CommandError(f"--owner: no user named {options['owner']!r}") from None
        try:
            with transaction.atomic():
                workspace = services.workspace_create(
                    name=name, time_zone=options["time_zone"], owner=owner
                )
                token, secret = services.api_token_create(
                    workspace=workspace, name=TOKEN_NAME, role=Role.ADMIN, created_by=owner
                )
        except ValidationError as exc:
            messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            reasons = "; ".join(
                f"{'--time-zone' if field == 'time_zone' else field}: {' '.join(msgs)}"
                for field, msgs in messages.items()
            )
            raise CommandError(reasons) from None
        self.stdout.write(
            f"Created workspace {workspace.name!r} (id {workspace.pk}, time zone "
            f"{workspace.time_zone})."
        )
        if owner is not None:
            self.stdout.write(f"{owner.get_username()} is an admin of it.")
        self.stdout.write(
            f"Issued API token {token.name!r} (role admin, prefix {token.prefix}). Its secret "
            "follows; it is not stored and will not be shown again:"
        )
        self.stdout.write(secret)
