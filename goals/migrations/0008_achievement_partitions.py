"""PostgreSQL: achievements partitioned by result, ``(goal_id, version)`` (``goals.partitions``).

A recompute then writes its result into a table of its own, indexes it in one pass and attaches
it, and drops the replaced result's table, instead of maintaining the indexes of one large
table row by row and deleting the old rows. Existing rows move into one table per result;
rows of a result without a table of its own would land in ``goals_achievement_default``.

PostgreSQL 15 has no identity columns on partitioned tables, so ids come from a sequence owned
by the column (the same numbers continue). A partitioned table's primary key must include the
partition key: it is ``(id, goal_id, version)``, which still finds a row by id. SQLite keeps the
plain table: nothing changes there.
"""

from django.db import migrations
from django.db.migrations.exceptions import IrreversibleError

FORWARD = """
ALTER TABLE goals_achievement RENAME TO goals_achievement_unpartitioned;
ALTER TABLE goals_achievement_unpartitioned RENAME CONSTRAINT goals_achievement_pkey
    TO goals_achievement_unpartitioned_pkey;
ALTER TABLE goals_achievement_unpartitioned RENAME CONSTRAINT achievement_unique_trigger
    TO goals_achievement_unpartitioned_trigger;
ALTER INDEX ach_goal_day_person RENAME TO goals_achievement_unpartitioned_day;
ALTER TABLE goals_achievement_unpartitioned RENAME CONSTRAINT goals_achievement_version_check
    TO goals_achievement_unpartitioned_version_check;
ALTER TABLE goals_achievement_unpartitioned ALTER COLUMN id DROP IDENTITY;

CREATE TABLE goals_achievement
    (LIKE goals_achievement_unpartitioned INCLUDING DEFAULTS)
    PARTITION BY RANGE (goal_id, version);
ALTER TABLE goals_achievement ADD CONSTRAINT goals_achievement_version_check
    CHECK (version >= 0);
CREATE SEQUENCE goals_achievement_id_seq OWNED BY goals_achievement.id;
ALTER TABLE goals_achievement ALTER COLUMN id SET DEFAULT nextval('goals_achievement_id_seq');
SELECT setval('goals_achievement_id_seq',
              COALESCE((SELECT MAX(id) FROM goals_achievement_unpartitioned), 0) + 1, false);
ALTER TABLE goals_achievement ADD CONSTRAINT goals_achievement_pkey
    PRIMARY KEY (id, goal_id, version);
ALTER TABLE goals_achievement ADD CONSTRAINT achievement_unique_trigger
    UNIQUE (goal_id, version, person_key, trigger_id, trigger_kind);
CREATE INDEX ach_goal_day_person ON goals_achievement (goal_id, version, local_date, person_key);
CREATE TABLE goals_achievement_default PARTITION OF goals_achievement DEFAULT;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT goal_id, version FROM goals_achievement_unpartitioned LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF goals_achievement FOR VALUES FROM (%s, %s) TO (%s, %s)',
            'goals_achievement_' || r.goal_id || '_' || r.version,
            r.goal_id, r.version, r.goal_id, r.version + 1);
    END LOOP;
END $$;
INSERT INTO goals_achievement SELECT * FROM goals_achievement_unpartitioned;
DROP TABLE goals_achievement_unpartitioned;
"""


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        raise IrreversibleError(
            "goals 0008 cannot be unapplied on PostgreSQL: goals_achievement stays partitioned "
            "(restore a backup taken before it to go back)"
        )


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)  # no parameters: format()'s % placeholders stay as they are


class Migration(migrations.Migration):

    dependencies = [
        ('goals', '0007_achievement_person_led_unique'),
    ]

    operations = [migrations.RunPython(forward, backward)]
