"""Messages are indexed by person and their touch time under the default attribution settings
(``Message.default_touch_time``), and the engine's SQL for that touch time is the indexed
expression, so goals with those settings are attributed by walking the index."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns import channels
from campaigns.models import Campaign, Workspace
from goals import engine
from goals.engine import credit
from goals.models import Achievement, Goal

from .helpers import make_goal


def spec_of(goal: Goal) -> engine.GoalSpec:
    return engine.GoalSpec.load(Goal.objects.select_related("workspace").get(pk=goal.pk))


@pytest.mark.postgresql
def test_the_lateral_join_walks_the_touch_index_by_person_and_touch_time(
    workspace: Workspace,
) -> None:
    """If the engine's expression and the index's drift apart, the index still finds the
    person, but the window would no longer be an index condition: the test names both. If the
    engine's order drifts from the index's, every message of the window is sorted."""
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    spec = spec_of(make_goal(workspace, sources=[campaign], compute=False))
    assert credit._touch_indexed(spec)
    columns = [Achievement._meta.get_field(f).column or f for f in engine.BUILD_FIELDS]  # type: ignore[union-attr]
    sql, params = credit._lateral_credit_sql(spec, "staged", columns)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE staged AS SELECT * FROM goals_achievement WHERE FALSE"
        )
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert f"using {engine.TOUCH_INDEX} on campaigns_message" in plan
    # The index continues with the rule's tie-break, so the walk stops at the first message
    # from a source instead of sorting every message of the window (the achievements
    # themselves are sorted by person, above the walk).
    walk = plan[plan.index("->  Limit") :]
    assert "Sort" not in walk, plan
    condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "person_key = s.person_key" in condition
    assert (
        "CASE WHEN" in condition and "s.window_start" in condition and "s.achieved_at" in condition
    )


@pytest.mark.parametrize(
    ("metrics", "count_machine", "indexed"),
    [
        ({}, True, True),
        # Machine opens and clicks play no part in `delivered` and `sent`.
        ({}, False, True),
        (channels.default_attribution_metrics(), True, True),
        ({"email": "opened"}, True, False),
        ({"in_app": "clicked"}, False, False),
    ],
)
def test_goals_whose_touch_time_is_the_indexed_one_use_the_index_on_postgresql(
    workspace: Workspace, metrics: dict[str, str], count_machine: bool, indexed: bool
) -> None:
    goal = make_goal(workspace, compute=False, metrics=metrics, count_machine=count_machine)
    assert credit._touch_indexed(spec_of(goal)) is (indexed and connection.vendor == "postgresql")
