"""Demo goals for the seeded workspace (``seed_demo``): the use cases of the product page."""

from __future__ import annotations

from django.db import transaction

from campaigns.models import Broadcast, BroadcastKind, Campaign, Segment, Workspace
from goals import services
from goals.models import Goal, GoalSource


def demo_goals(*, workspace: Workspace) -> list[Goal]:
    """Create the demo goals (their first computation is queued like any goal's)."""
    campaigns = {c.name: c for c in Campaign.objects.in_workspace(workspace)}
    newsletters = (
        Broadcast.objects.in_workspace(workspace).alive().filter(kind=BroadcastKind.NEWSLETTER)
    )
    onboarding = [c for name, c in campaigns.items() if name.startswith("Onboarding")]
    alive = [c for c in onboarding if c.deleted_at is None]
    paying = Segment.objects.in_workspace(workspace).alive().filter(name="Paying customers").first()

    def refs(*items: Campaign | Broadcast) -> list[dict[str, object]]:
        return [
            {"type": "campaign" if isinstance(i, Campaign) else "broadcast", "id": i.pk}
            for i in items
        ]

    trial_sources = [c for n, c in campaigns.items() if n.startswith("Trial") and not c.deleted_at]
    goals = [
        services.goal_create(
            workspace=workspace,
            name="Trial to paid",
            description="People who activate a paid plan, and the messages that got them there.",
            tags=["revenue", "conversion"],
            criteria={"trigger": {"type": "event", "name": "plan_activated"}, "filters": []},
            impact={"currency": "EUR", "event_key": "price"},
            attribution={"window_days": 14},
            sources=refs(*alive, *trial_sources, *newsletters),
        ),
        _onboarding_goal(workspace, sources=refs(*alive), deleted=onboarding),
    ]
    win_back = [c for n, c in campaigns.items() if n.startswith("Win-back")]
    if paying is not None:
        goals.append(
            services.goal_create(
                workspace=workspace,
                name="Win-back: back to paying",
                description="Customers re-entering the paying segment after a win-back message.",
                tags=["win-back", "revenue"],
                criteria={"trigger": {"type": "segment", "segment": paying.pk}, "filters": []},
                impact={"currency": "EUR", "static": "25.00"},
                attribution={"window_days": 30},
                sources=refs(*win_back, *newsletters),
            )
        )
    return goals


def _onboarding_goal(
    workspace: Workspace, *, sources: list[dict[str, object]], deleted: list[Campaign]
) -> Goal:
    with transaction.atomic():  # the first computation (queued on commit) sees every source
        goal = services.goal_create(
            workspace=workspace,
            name="Onboarding completed",
            description="Finishing every onboarding step, credited to opened messages.",
            tags=["onboarding"],
            criteria={"trigger": {"type": "event", "name": "onboarding_completed"}, "filters": []},
            attribution={"window_days": 7, "metrics": {"email": "opened", "push": "opened"}},
            sources=sources,
        )
        # The deleted "Onboarding v1" campaign was a source before it was deleted (a deleted
        # campaign can't be added): its history keeps being credited, shown as deleted.
        for campaign in deleted:
            if campaign.deleted_at is not None:
                GoalSource.objects.get_or_create(goal=goal, campaign=campaign)
    return goal
