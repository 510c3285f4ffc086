"""A workspace's time zone is an IANA name (SPEC §2), the same list in the command and the admin."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from campaigns import services
from campaigns.admin import WorkspaceForm
from campaigns.models import ApiToken, Workspace, time_zone_names

# Names the zone database's directory answers to that are not IANA zone names: the server's
# own zone (it depends on the machine), zones counting leap seconds (their local days are
# 27 seconds off), and the POSIX copies.
NOT_IANA = ["localtime", "right/UTC", "posix/Europe/Berlin", "posixrules", "europe/berlin"]


@pytest.mark.parametrize("name", NOT_IANA)
def test_create_workspace_refuses_what_is_not_an_iana_zone_name(db: Any, name: str) -> None:
    with pytest.raises(CommandError, match=r"--time-zone: .*not an IANA time zone"):
        call_command("create_workspace", "Initech", "--time-zone", name, stdout=StringIO())

    assert not Workspace.objects.exists()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("name", NOT_IANA)
def test_the_model_and_the_admin_form_refuse_it_too(db: Any, name: str) -> None:
    with pytest.raises(ValidationError):
        services.workspace_create(name="Initech", time_zone=name)
    assert name not in time_zone_names()
    form = WorkspaceForm(data={"name": "Initech", "time_zone": name})
    assert not form.is_valid()
    assert "time_zone" in form.errors


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_iana_names_are_accepted(db: Any, name: str) -> None:
    assert services.workspace_create(name="Initech", time_zone=name).time_zone == name
    assert WorkspaceForm(data={"name": "Initech", "time_zone": name}).is_valid()
