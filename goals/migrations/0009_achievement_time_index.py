"""The achievement list's index: (goal, version, achieved time, id), the list's order, in place
of (goal, version, local date, person).

The list sorted a large goal's rows, joined to their people, messages and sources, before
taking a page: 3-5 s for the first page of a goal of 292,000 achievements. A page is now read
from this index; a date range is bounded by time as well as by date. The date index served only
that range and the reports of results built before rollups. It costs a recompute about the same
to build. On PostgreSQL both operations reach every partition of the parent table.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0008_message_touch_rank_index'),
        ('goals', '0008_achievement_partitions'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='achievement',
            name='ach_goal_day_person',
        ),
        migrations.AddIndex(
            model_name='achievement',
            index=models.Index(fields=['goal', 'version', 'achieved_at', 'id'], name='ach_goal_time'),
        ),
    ]
