"""Drop the message indexes that others now cover: (person_key, sent_at) by
``message_person_touch`` (every lookup of a person's messages is by key), and the foreign keys'
own indexes by the unique delivery id and the (source, sent_at) indexes, which lead with the
same column. Each index dropped is one less to write for every message and metric stored."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0006_message_touch_index"),
    ]

    operations = [
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
    ]
