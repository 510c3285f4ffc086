"""In-process mode (no broker): a request's background work runs before its response even when
a test harness holds the request's transaction open.

Ingestion and goal changes hand their work to Celery after the commit that stored it
(``transaction.on_commit``); without a broker the task then runs right there, so a client sees
achievements as soon as its request is answered. A test framework's per-test transaction
(Django's ``TestCase``, pytest-django's ``django_db``) never commits, so those callbacks would
never run and a test driving the API would see a goal stay ``recomputing`` with no results,
unlike any real client. ``RunDeferredTasks`` runs them at the end of the request instead, as
``TestCase.captureOnCommitCallbacks(execute=True)`` would, when the only transactions still
open are the harness's own.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections
from django.http import HttpRequest, HttpResponse


def _only_test_transactions(alias: str) -> bool:
    """Whether the connection is inside atomic blocks opened by a test case alone (Django
    marks those ``_from_testcase``): what they hold counts as committed for the test."""
    connection = connections[alias]
    blocks = connection.atomic_blocks
    return bool(blocks) and all(getattr(block, "_from_testcase", False) for block in blocks)


class RunDeferredTasks:
    """Middleware: in in-process mode, run the on-commit callbacks a request registered when
    only a test harness's transaction is left open after it (see the module docstring). Any
    other time (a real commit, a broker) it does nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from goals_project.celery import app  # imports the tasks' modules, which need the apps

        if not app.conf.task_always_eager:
            return self.get_response(request)
        before = {alias: len(connections[alias].run_on_commit) for alias in connections}
        response = self.get_response(request)
        for alias, start in before.items():
            if not _only_test_transactions(alias):
                continue
            connection = connections[alias]
            # A callback may register more (a task queueing another): run until none is left.
            while len(connection.run_on_commit) > start:
                pending = connection.run_on_commit[start:]
                del connection.run_on_commit[start:]
                for entry in pending:  # (savepoint ids, callback, robust)
                    entry[1]()
        return response
