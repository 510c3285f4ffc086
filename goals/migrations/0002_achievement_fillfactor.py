"""Leave room on achievement pages so re-attribution updates stay HOT on PostgreSQL.

Attribution rewrites non-indexed columns of rows just inserted; with free space on the page,
PostgreSQL updates them in place (a heap-only tuple) instead of adding an entry to every index.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE goals_achievement SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE goals_achievement RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("goals", "0001_initial")]
    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
