"""Index a person's messages by their touch time under the default attribution settings
(``Message.default_touch_time``; goals attribute through it, ``goals.engine.TOUCH_INDEX``).

Built concurrently on PostgreSQL, so a live messages table keeps taking writes while it is
built; 0007 then drops the indexes it makes redundant.
"""

import django.db.models.functions.comparison
from django.db import migrations, models

from campaigns.migration_operations import AddIndexConcurrentlyOnPostgres


def _touch(channel: str, delivered: bool) -> models.When:
    then = (
        models.F("reached_delivered_at")
        if delivered
        else django.db.models.functions.comparison.Coalesce(
            models.F("reached_sent_at"), models.F("sent_at")
        )
    )
    return models.When(channel=channel, then=then)


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
                models.Case(
                    _touch("email", True),
                    _touch("push", True),
                    _touch("whatsapp", True),
                    _touch("sms", True),
                    _touch("in_app", False),
                    _touch("webhook", False),
                    _touch("slack", False),
                    output_field=models.DateTimeField(),
                ),
                name="message_person_touch",
            ),
        ),
    ]
