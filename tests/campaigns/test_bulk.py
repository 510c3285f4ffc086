"""``RowInserter`` writes through COPY on PostgreSQL, on psycopg's own cursor: its errors must
still reach callers as Django's, which is what they catch (a recompute whose goal was deleted
under it ends quietly on the rollup's IntegrityError, ``engine.recompute``)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from campaigns.bulk import RowInserter
from campaigns.models import Workspace
from goals.engine.rollup import ROLLUP_FIELDS
from goals.models import Goal, GoalRollup

pytestmark = pytest.mark.django_db


def test_a_row_the_database_refuses_raises_djangos_integrity_error(workspace: Workspace) -> None:
    goal = Goal.objects.create(workspace=workspace, name="Paid")
    cell = (goal.pk, 1, "total", 0, date(2026, 3, 2), date(1, 1, 1), False, 1, 1, 0, 0)
    inserter = RowInserter(GoalRollup, ROLLUP_FIELDS)
    assert inserter.insert([cell]) == 1

    with pytest.raises(IntegrityError), transaction.atomic():
        inserter.insert([cell])  # the same cell again: goalrollup_unique_cell

    assert GoalRollup.objects.filter(goal=goal).count() == 1
