"""Keeping results consistent with changes made outside the goals app (connected in
``GoalsConfig``): a person deleted, a workspace's time zone changed.


Achievements keep a deleted person's anonymous key, so they keep counting (SPEC §3); only their
``person`` link is cleared. Django's own ``SET_NULL`` would look the rows up by ``person_id``,
which would need an index that makes every recompute's bulk insert several times slower; the
rows are found here through the (goal, version, person_key) index instead, one exact lookup per
version a goal may hold (the current one up to the one being built).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from campaigns.models import Person, Workspace
from goals import engine
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


def note_time_zone_change(sender: type[Workspace], instance: Workspace, **kwargs: Any) -> None:
    """pre_save: remember whether the workspace's stored time zone is about to change."""
    if instance.pk is None or kwargs.get("raw"):
        return
    stored = Workspace.objects.filter(pk=instance.pk).values_list("time_zone", flat=True).first()
    instance._time_zone_changed = stored is not None and stored != instance.time_zone  # type: ignore[attr-defined]


def recompute_after_time_zone_change(
    sender: type[Workspace], instance: Workspace, **kwargs: Any
) -> None:
    """post_save: a new time zone moves achievements' local days and attribution windows'
    midnights (SPEC §2, §4.5), so every goal of the workspace is recomputed from stored data
    (readers keep the previous result until then)."""
    if getattr(instance, "_time_zone_changed", False):
        instance._time_zone_changed = False  # type: ignore[attr-defined]
        for goal in Goal.objects.filter(workspace_id=instance.pk):
            engine.recompute_request(goal=goal)
