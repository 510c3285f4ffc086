"""Ingestion racing a person's deletion (found by driving ``/batch`` under load on PostgreSQL
while people were deleted): replayed here in a chosen interleaving."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import ingestion, services
from campaigns.models import Event, Message, Person, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]


def test_a_batch_whose_person_is_deleted_before_it_commits_stores_everything(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """The batch reads ada, another request deletes her and commits, and the batch's message
    then links to a row that is gone: its commit failed on the foreign key and the whole batch
    answered 500. Stored again, it finds ada gone and creates her anew, as it would had it
    arrived after the deletion (which, by commit order, it did)."""
    first = api.put("/api/v1/people/ada", {"attributes": {"plan": "trial"}}, format="json")
    assert first.status_code in (200, 201)
    old_key = Person.objects.get(identifier="ada").key
    real_load = ingestion._Batch._load_people
    deleted = threading.Event()

    def load_then_lose_ada(batch: Any, identifiers: set[str], upserts: list[Any]) -> None:
        real_load(batch, identifiers, upserts)
        if not deleted.is_set():

            def delete() -> None:
                try:
                    services.person_delete(person=Person.objects.get(identifier="ada"))
                finally:
                    connection.close()

            worker = threading.Thread(target=delete)
            worker.start()
            worker.join(10)
            deleted.set()

    monkeypatch.setattr(ingestion._Batch, "_load_people", load_then_lose_ada)
    response = api.post(
        "/api/v1/batch",
        {
            "items": [
                {
                    "type": "message",
                    "id": "m-1",
                    "person": "ada",
                    "channel": "email",
                    "sent_at": "2026-03-01T09:00:00Z",
                },
                {"type": "event", "person": "ada", "name": "login"},
            ]
        },
        format="json",
    )

    assert deleted.is_set()
    assert response.status_code == 200, response.content
    assert [item["status"] for item in response.json()["results"]] == [201, 201]
    ada = Person.objects.get(identifier="ada")
    assert ada.key != old_key  # someone new, as after any deletion
    assert Message.objects.get(client_id="m-1").person_key == ada.key


def test_a_deletion_while_a_batch_links_to_the_person_leaves_both_done(
    workspace: Workspace, api: APIClient
) -> None:
    """The deletion cleared the person's links, a batch then committed a new link to the row,
    and removing the row failed on the foreign key (the DELETE answered 500). The deletion now
    locks the row first: the batch's commit waits for it, then the batch is stored again for
    a new person."""
    api.put("/api/v1/people/ada", {"attributes": {"plan": "trial"}}, format="json")
    old_key = Person.objects.get(identifier="ada").key
    at_delete, batch_done, batch_waited = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def pause_before_removing_the_row(execute: Any, sql: str, *args: Any) -> Any:
        if sql.startswith('DELETE FROM "campaigns_person"') and not at_delete.is_set():
            at_delete.set()
            # The batch commits here, unless the row is locked: then its commit waits for
            # this deletion (a lock not granted), and the deletion goes on.
            deadline = time.monotonic() + 20
            while not batch_done.is_set() and time.monotonic() < deadline:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")
                    if cursor.fetchone()[0]:
                        batch_waited.set()
                        break
                time.sleep(0.02)
        return execute(sql, *args)

    def delete() -> None:
        try:
            with connection.execute_wrapper(pause_before_removing_the_row):
                services.person_delete(person=Person.objects.get(identifier="ada"))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    deleting = threading.Thread(target=delete)
    deleting.start()
    assert at_delete.wait(10)
    response = api.post(
        "/api/v1/batch",
        {"items": [{"type": "event", "person": "ada", "name": "login"}]},
        format="json",
    )
    batch_done.set()
    deleting.join(10)

    assert failures == []
    assert batch_waited.is_set()  # its commit waited for the deletion
    assert response.status_code == 200, response.content
    assert [item["status"] for item in response.json()["results"]] == [201]
    assert Person.objects.get(identifier="ada").key != old_key


def test_a_deletion_while_a_batch_derives_its_messages_reach_does_not_deadlock(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A batch derives its messages' reach before it commits, locking them. Its foreign keys
    were checked at commit, locking its people (key share) only then: a deletion of one of
    them, holding the person and waiting for their messages, deadlocked with it. The batch's
    people are locked before its messages now, as the deletion locks them."""
    ingest_items = [
        {"type": "message", "id": "m-1", "person": "ada", "channel": "email",
         "sent_at": "2026-03-01T09:00:00Z"},
    ]  # fmt: skip
    assert api.post("/api/v1/batch", {"items": ingest_items}, format="json").status_code == 200
    real_refresh = services.message_reach_refresh
    deletion_waits = threading.Event()
    failures: list[BaseException] = []
    threads: list[threading.Thread] = []

    def refresh_then_let_a_deletion_in(*, message_ids: Any) -> int:
        count = real_refresh(message_ids=message_ids)
        if threads or not connection.in_atomic_block:
            return count

        def delete() -> None:
            try:
                services.person_delete(person=Person.objects.get(identifier="ada"))
            except BaseException as exc:
                failures.append(exc)
            finally:
                connection.close()

        threads.append(threading.Thread(target=delete))
        threads[0].start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not deletion_waits.is_set():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0]:
                    deletion_waits.set()
            time.sleep(0.02)
        return count

    monkeypatch.setattr(services, "message_reach_refresh", refresh_then_let_a_deletion_in)
    response = api.post(
        "/api/v1/batch",
        {
            "items": [
                {"type": "metric", "message": "m-1", "metric": "delivered",
                 "timestamp": "2026-03-01T09:01:00Z"},
                {"type": "event", "person": "ada", "name": "login"},
            ]
        },
        format="json",
    )  # fmt: skip
    threads[0].join(10)

    assert deletion_waits.is_set()  # the deletion waited for the batch
    assert failures == []
    assert response.status_code == 200, response.content
    assert [item["status"] for item in response.json()["results"]] == [201, 201]
    assert not Person.objects.filter(identifier="ada").exists()  # deleted after the batch
    assert Message.objects.get(client_id="m-1").reached_delivered_at is not None


def test_a_retried_batch_stamps_its_rows_when_the_retry_begins(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A batch stored again (a person it names was deleted meanwhile) kept the first try's
    ``received_at``: after a long wait on a lock, its rows looked received before the
    transaction that stored them began, and a goal build's catch-up could miss them."""
    clock = [timezone.now()]
    monkeypatch.setattr(ingestion.timezone, "now", lambda: clock[0])
    real_apply = ingestion._Batch.apply
    tries: list[Any] = []

    def apply_deleted_midway_the_first_time(batch: Any, items: Any) -> None:
        tries.append(batch.now)
        if len(tries) == 1:
            clock[0] += timedelta(minutes=2)  # waited on a lock, then lost the person
            cause = type("ForeignKeyViolation", (Exception,), {"sqlstate": "23503"})()
            raise IntegrityError("person vanished") from cause
        real_apply(batch, items)

    monkeypatch.setattr(ingestion._Batch, "apply", apply_deleted_midway_the_first_time)
    response = api.post(
        "/api/v1/batch",
        {"items": [{"type": "event", "person": "ada", "name": "login", "id": "e1"}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert tries == [tries[0], tries[0] + timedelta(minutes=2)]
    assert Event.objects.get(client_id="e1").received_at == tries[1]
