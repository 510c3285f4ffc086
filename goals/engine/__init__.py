"""The goals engine: evaluation, set-based attribution, recomputes and incremental updates.

Data flows one way (STYLE.md): ingestion stores raw rows and queues
``campaigns.tasks.process_ingested``, which calls ``process_ingested`` here; goal changes call
``recompute_request``, which queues ``goals.tasks.recompute_goal``.

**Evaluation** turns stored rows into achievements: the trigger rows since the tracking start
(events, attribute changes, segment entries, messages reaching a metric), kept where every
filter holds at that moment. It runs for a whole goal (recompute) or for a set of people
(incremental), with the same code, so the two cannot disagree.

**Attribution** of a whole version is computed while the achievements are copied in
(``build_attributed``): on PostgreSQL, for goals with the default touch time, by a LATERAL join
walking each person's messages through the (person, touch time) index; otherwise by an as-of
join written with window functions. For a set of people it is one UPDATE per chunk whose
correlated subquery picks, for each achievement, the best qualifying message. All are
set-based twins of ``goals.attribution.attribute``, tested against it.

**Order independence.** Incremental processing never applies a delta: for every person the new
rows concern, it re-derives that person's achievements for the goal from everything stored,
diffs them against the current result, and re-attributes all of that person's achievements. A
late message, metric, segment change or attribute change therefore lands exactly where it would
have had it arrived first.

**Recomputes** build a new result version beside the current one (readers keep the old one),
switch ``current_version`` in one short transaction, then catch up on the people whose data
arrived while building. A large build on PostgreSQL splits its people over several
connections working at once (``_shards``). Two recomputes of one goal never build at once: a
worker claims the goal with a conditional UPDATE on ``recompute_lease_until`` (a lease, not a
database lock, so it works on SQLite and PostgreSQL alike, needs no connection held open for
minutes, and expires if a worker dies). A build overtaken by a newer change is discarded at
the switch (version check). Incremental updates and the switch serialise on the goal row
(``select_for_update``). The switch records the settings the version was built with
(``Goal.result_spec``); incremental updates extend the current version with those
(``GoalSpec.for_result``), never with a change still recomputing (SPEC §6).

The modules, each importing only those above it:

- ``spec``: a goal's definition, read once (``GoalSpec``), and what a trigger row is;
- ``shards``: spreading a build's people over several connections, and its session settings;
- ``evaluation``: stored rows -> achievement rows, for a goal or a set of people;
- ``credit``: the attribution rule in SQL (LATERAL walk, as-of join, per-chunk UPDATE);
- ``rollup``: the per goal, scope and day cells reports read;
- ``build``: a whole version written already attributed (``build_attributed``);
- ``incremental``: new data applied to the people it concerns, and catch-up;
- ``recomputes``: leases, building a new version and switching readers to it;
- ``reconciliation``: the periodic pass that repairs what a crash or a race left behind.

This package exports what the rest of the product calls; tests reach the modules themselves.
"""

from goals.engine.build import build_attributed
from goals.engine.credit import TOUCH_INDEX, attribute_achievements
from goals.engine.evaluation import BUILD_FIELDS, evaluate
from goals.engine.incremental import (
    apply_people,
    catch_up,
    process_ingested,
    received_since,
    settle_before_deletion,
    unseen_since,
)
from goals.engine.recomputes import LeaseHeld, recompute, recompute_request
from goals.engine.reconciliation import reconcile
from goals.engine.rollup import build_rollup, rollup_backfill, rollup_units
from goals.engine.spec import GoalSpec

__all__ = [
    "BUILD_FIELDS",
    "TOUCH_INDEX",
    "GoalSpec",
    "LeaseHeld",
    "apply_people",
    "attribute_achievements",
    "build_attributed",
    "build_rollup",
    "catch_up",
    "evaluate",
    "process_ingested",
    "received_since",
    "recompute",
    "recompute_request",
    "reconcile",
    "rollup_backfill",
    "rollup_units",
    "settle_before_deletion",
    "unseen_since",
]
