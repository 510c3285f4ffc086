from django.apps import AppConfig
from django.db.models.signals import post_save, pre_delete, pre_save


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = "Goals"

    def ready(self) -> None:
        from campaigns.models import Person, Workspace
        from goals import receivers

        pre_delete.connect(
            receivers.clear_person_links, sender=Person, dispatch_uid="goals.clear_person"
        )
        pre_save.connect(
            receivers.note_time_zone_change, sender=Workspace, dispatch_uid="goals.zone_before"
        )
        post_save.connect(
            receivers.recompute_after_time_zone_change,
            sender=Workspace,
            dispatch_uid="goals.zone_after",
        )
