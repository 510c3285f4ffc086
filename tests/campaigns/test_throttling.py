"""The two request rates per token (SPEC §7: 429 when throttled; README: a burst rate and a
sustained rate) count the requests they serve, not the ones they refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from campaigns.auth import WorkspaceBurstThrottle, WorkspaceSustainedThrottle
from campaigns.models import Workspace

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Two requests a second and five a minute, on a clock the test moves."""
    cache.clear()
    clock = Clock()
    rates = {WorkspaceBurstThrottle: "2/second", WorkspaceSustainedThrottle: "5/minute"}
    for throttle, rate in rates.items():
        monkeypatch.setattr(throttle, "rate", rate, raising=False)
        monkeypatch.setattr(throttle, "timer", clock)
    yield clock
    cache.clear()


def test_requests_the_burst_rate_refused_leave_the_sustained_rate_alone(
    api: APIClient, workspace: Workspace, clock: Clock
) -> None:
    """A client that bursts past the per-second rate, then waits as Retry-After says, gets its
    whole per-minute rate. Every throttle used to count every request it let through, the ones
    another throttle refused included: two refused bursts had used up the minute's five after
    three served requests."""
    served = 0
    for second in range(4):
        clock.now += 1.5 if second else 0
        statuses = [api.get("/api/v1/segments").status_code for _ in range(4)]
        assert set(statuses) <= {200, 429}
        served += statuses.count(200)

    assert served == 5
    assert api.get("/api/v1/segments").status_code == 429
    clock.now += 61
    assert api.get("/api/v1/segments").status_code == 200


def test_a_refused_request_waits_for_the_longer_of_the_two_limits(
    api: APIClient, workspace: Workspace, clock: Clock
) -> None:
    for _ in range(2):
        assert api.get("/api/v1/segments").status_code == 200
    for _ in range(2):
        clock.now += 1.5
        for _ in range(2):
            api.get("/api/v1/segments")
    clock.now += 1.5

    refused = api.get("/api/v1/segments")  # both limits are full now

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 50
