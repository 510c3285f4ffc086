"""Index operations for migrations of large, live tables: ``CREATE`` / ``DROP INDEX
CONCURRENTLY`` on PostgreSQL, so the table keeps taking writes while an index is built or
dropped (the migration must not be atomic), and Django's own on SQLite."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.migrations.operations.models import AddIndex, RemoveIndex
from django.db.models.functions import Coalesce


def _concurrently(schema_editor: Any) -> dict[str, bool]:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


class AddIndexConcurrentlyOnPostgres(AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_concurrently(schema_editor))


class RemoveIndexConcurrentlyOnPostgres(RemoveIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **_concurrently(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, **_concurrently(schema_editor))


def default_touch_time_0006() -> models.Case:
    """``Message.default_touch_time`` as migrations 0006 and 0008 index it, frozen here (a
    migration must not follow later changes of the model's): ``delivered`` where the channel
    has it, else ``sent``."""

    def touch(channel: str, delivered: bool) -> models.When:
        then = (
            models.F("reached_delivered_at")
            if delivered
            else Coalesce(models.F("reached_sent_at"), models.F("sent_at"))
        )
        return models.When(channel=channel, then=then)

    return models.Case(
        touch("email", True),
        touch("push", True),
        touch("whatsapp", True),
        touch("sms", True),
        touch("in_app", False),
        touch("webhook", False),
        touch("slack", False),
        output_field=models.DateTimeField(),
    )
