from django.apps import AppConfig
from django.db.models.signals import pre_delete


class GoalsConfig(AppConfig):
    name = "goals"
    verbose_name = "Goals"

    def ready(self) -> None:
        from campaigns.models import Person
        from goals.receivers import clear_person_links

        pre_delete.connect(clear_person_links, sender=Person, dispatch_uid="goals.clear_person")
