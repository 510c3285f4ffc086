"""Index a person's messages by their touch time under the default attribution settings
(``Message.default_touch_time``; goals attribute through it, ``goals.engine.TOUCH_INDEX``).

Built concurrently on PostgreSQL, so a live messages table keeps taking writes while it is
built; 0007 then drops the indexes it makes redundant.
"""

from django.db import migrations, models

from campaigns.migration_operations import (
    AddIndexConcurrentlyOnPostgres,
    default_touch_time_0006,
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("campaigns", "0005_split_comma_tags"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="message",
            index=models.Index(
                models.F("person_key"),
                default_touch_time_0006(),
                name="message_person_touch",
            ),
        ),
    ]
