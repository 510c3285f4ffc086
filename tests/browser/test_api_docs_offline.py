"""The API's browsable docs in a real browser: every request they make stays on this server
(SPEC §7: docs that work offline), including what their bundled scripts fetch by themselves."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("path", "drawn"),
    [
        # Swagger UI's operations; ReDoc's side menu, whose footer shows Redocly's logo.
        ("/api/docs/", ".opblock"),
        ("/api/redoc/", "text=API docs by Redocly"),
    ],
)
def test_the_docs_request_nothing_from_another_host(
    page: Page, live_server: Any, path: str, drawn: str
) -> None:
    elsewhere: list[str] = []
    refused: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith((live_server.url, "data:", "blob:")):
            elsewhere.append(request.url)

    def note_refusal(request: Request) -> None:
        # Refused by the page's Content-Security-Policy: it never left the browser.
        if request.failure == "csp":
            refused.append(request.url)

    page.on("request", note)
    page.on("requestfailed", note_refusal)
    page.goto(path)
    # Both pages draw the schema they fetch: wait until it is on screen.
    page.wait_for_selector(drawn, timeout=30_000)
    page.wait_for_load_state("networkidle")

    assert [url for url in elsewhere if url not in refused] == []
