"""Audit G: the login page every member signs in on."""

from __future__ import annotations

import re

from django.test import Client


def test_the_login_page_has_a_title(client: Client, db: None) -> None:
    """The browser tab read "| Goals": the admin's login template builds its title from a
    ``title`` the view did not give."""
    page = client.get("/accounts/login/").content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None
    assert title.group(1).strip() == "Log in | Goals"
    # A failed attempt says so in the tab too, as the admin's login does.
    failed = client.post("/accounts/login/", {"username": "x", "password": "y"}).content.decode()
    failed_title = re.search(r"<title>(.*?)</title>", failed, re.S)
    assert failed_title is not None and failed_title.group(1).strip() == "Error: Log in | Goals"
