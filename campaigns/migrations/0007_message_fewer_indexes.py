"""Drop the message indexes that others now cover: (person_key, sent_at) by
``message_person_touch`` (every lookup of a person's messages is by key), and the foreign keys'
own indexes by the unique delivery id and the (source, sent_at) indexes, which lead with the
same column. Each index dropped is one less to write for every message and metric stored.

Only the indexes go: Django's own ``AlterField`` would also drop and re-add the foreign-key
constraints, re-checking every message while writes wait. On PostgreSQL they are dropped
concurrently (the migration is not atomic), so a live messages table keeps taking writes.
"""

import django.db.models.deletion
from django.db import migrations, models

FOREIGN_KEYS = ("workspace", "campaign", "broadcast")


def index_names(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The names Django gave the foreign keys' indexes (as ``sqlmigrate`` shows them)."""
    message = apps.get_model("campaigns", "Message")
    table = message._meta.db_table
    return [
        schema_editor._create_index_name(table, [message._meta.get_field(name).column])
        for name in FOREIGN_KEYS
    ]


def drop_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in ["message_key_sent", *index_names(apps, schema_editor)]:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    message = apps.get_model("campaigns", "Message")
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    table = schema_editor.quote_name(message._meta.db_table)
    columns = [("message_key_sent", ["person_key", "sent_at"])] + [
        (name, [message._meta.get_field(field).column])
        for name, field in zip(index_names(apps, schema_editor), FOREIGN_KEYS)
    ]
    for name, fields in columns:
        quoted = ", ".join(schema_editor.quote_name(f) for f in fields)
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {schema_editor.quote_name(name)} "
            f"ON {table} ({quoted})"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("campaigns", "0006_message_touch_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.RemoveIndex(
                    model_name="message",
                    name="message_key_sent",
                ),
                migrations.AlterField(
                    model_name="message",
                    name="broadcast",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="messages", to="campaigns.broadcast"),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="campaign",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="messages", to="campaigns.campaign"),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="workspace",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="campaigns.workspace"),
                ),
            ],
        ),
    ]
