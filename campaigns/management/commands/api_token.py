"""``manage.py api_token issue|revoke|list --workspace ID``: workspace API tokens for operators.

``issue`` prints the new secret as the last line of output (shown once; only its hash is
stored). ``revoke`` takes a token's id or the prefix shown by ``list``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns import services
from campaigns.models import ApiToken, Role, Workspace


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "Issue, revoke or list the API tokens of a workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        issue = actions.add_parser("issue", help="issue a token and print its secret last")
        issue.add_argument("--workspace", type=int, required=True, help="workspace id")
        issue.add_argument("--name", default="CLI token", help="label (default 'CLI token')")
        issue.add_argument(
            "--role", choices=list(Role.values), default=Role.EDITOR, help="default editor"
        )

        revoke = actions.add_parser("revoke", help="revoke a token by id or prefix")
        revoke.add_argument("token", metavar="PREFIX_OR_ID", help="token id or prefix (gk_…)")
        revoke.add_argument("--workspace", type=int, required=True, help="workspace id")

        listing = actions.add_parser("list", help="list the workspace's tokens")
        listing.add_argument("--workspace", type=int, required=True, help="workspace id")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(pk=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"--workspace: no workspace with id {options['workspace']}")
        getattr(self, f"handle_{options['action']}")(workspace, options)

    def handle_issue(self, workspace: Workspace, options: dict[str, Any]) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("--name: must not be blank")
        token, secret = services.api_token_create(
            workspace=workspace, name=name, role=options["role"]
        )
        self.stdout.write(
            f"Issued token {token.name!r} (id {token.pk}, role {token.role}, prefix "
            f"{token.prefix}) for workspace {workspace.name!r}. Its secret follows; it is not "
            "stored and will not be shown again:"
        )
        self.stdout.write(secret)

    def handle_revoke(self, workspace: Workspace, options: dict[str, Any]) -> None:
        ref = options["token"].strip()
        tokens = ApiToken.objects.in_workspace(workspace)
        if ref.isdigit():
            matches = list(tokens.filter(pk=int(ref)))
        else:
            matches = list(tokens.filter(prefix__startswith=ref)) if ref else []
        if not matches:
            raise CommandError(f"no token {ref!r} in workspace {workspace.pk}")
        if len(matches) > 1:
            prefixes = ", ".join(t.prefix for t in matches)
            raise CommandError(f"{ref!r} matches several tokens ({prefixes}); give its id")
        token = matches[0]
        if token.revoked_at is not None:
            self.stdout.write(
                f"Token {token.prefix} was already revoked at {_when(token.revoked_at)}."
            )
            return
        services.api_token_revoke(token=token)
        self.stdout.write(f"Revoked token {token.name!r} ({token.prefix}).")

    def handle_list(self, workspace: Workspace, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.in_workspace(workspace).order_by("created_at", "pk")
        rows = [
            (
                str(t.pk),
                t.prefix,
                t.name,
                t.role,
                _when(t.created_at),
                _when(t.last_used_at),
                _when(t.revoked_at),
            )
            for t in tokens
        ]
        header = ("id", "prefix", "name", "role", "created", "last used", "revoked")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            )
        if not rows:
            self.stdout.write(f"(workspace {workspace.name!r} has no tokens)")
