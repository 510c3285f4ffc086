"""PostgreSQL: connections take achievement ids from their sequence 1,000 at a time.

A recompute's shares insert their rows at the same time, each asking the one sequence for
every row's id: the sequence's page lock and its log records cost each share about 0.06 s of
the 0.75 s it takes to credit and write 100,000 achievements (the bench goal at the issue's
size, two connections). With a cache each connection asks once per 1,000 rows. Ids stay
unique; their order no longer follows the order rows were written in across connections, and
a connection's unused ids are skipped, which nothing reads (ids only break ties of equal
times in the achievement list). SQLite has no sequence. Reversible.
"""

from django.db import migrations


def cache(size: int):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER SEQUENCE goals_achievement_id_seq CACHE {size}")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0011_goal_result_spec"),
    ]

    operations = [migrations.RunPython(cache(1000), cache(1))]
