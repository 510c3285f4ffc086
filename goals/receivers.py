"""Keeping achievements consistent when a person is deleted (connected in ``GoalsConfig``).

Achievements keep a deleted person's anonymous key, so they keep counting (SPEC §3); only their
``person`` link is cleared. Django's own ``SET_NULL`` would look the rows up by ``person_id``,
which would need an index that makes every recompute's bulk insert several times slower; the
rows are found here through the (goal, version, person_key) index instead, one exact lookup per
version a goal may hold (the current one up to the one being built).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from campaigns.models import Person
from goals.models import Achievement, Goal


def clear_person_links(sender: type[Person], instance: Person, **kwargs: Any) -> None:
    versions = Q()
    for goal_id, current, requested in Goal.objects.filter(
        workspace_id=instance.workspace_id
    ).values_list("pk", "current_version", "requested_version"):
        low, high = min(current, requested), max(current, requested)
        versions |= Q(goal_id=goal_id, version__in=range(low, high + 1))
    if versions:
        Achievement.objects.filter(versions, person_key=instance.key).update(person=None)
