"""One index fewer on achievements: the unique trigger index is led by the person, so it also
serves a version's rows by person (``ach_goal_person`` goes), and a recompute, which writes rows
in person order, adds its entries in order. A trigger belongs to one person, so uniqueness is
unchanged.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0003_attribute_change_patch'),
        ('goals', '0006_achievement_unconstrained_goal'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='achievement',
            name='achievement_unique_trigger',
        ),
        migrations.RemoveIndex(
            model_name='achievement',
            name='ach_goal_person',
        ),
        migrations.AddConstraint(
            model_name='achievement',
            constraint=models.UniqueConstraint(fields=('goal', 'version', 'person_key', 'trigger_id', 'trigger_kind'), name='achievement_unique_trigger'),
        ),
    ]
