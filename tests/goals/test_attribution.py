"""Table tests of the last-touch rule (SPEC §4.5) in its pure reference form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from goals.attribution import (
    AttributionSettings,
    Candidate,
    Credit,
    MetricEvent,
    attribute,
    touch_time,
    window_start,
)

BERLIN = ZoneInfo("Europe/Berlin")
ONBOARDING = ("campaign", 1)
NEWSLETTER = ("broadcast", 2)
SOURCES = frozenset({ONBOARDING, NEWSLETTER})


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def email(
    message_id: int,
    sent: datetime,
    *metrics: MetricEvent,
    source=ONBOARDING,
    delivery_id: str | None = None,
) -> Candidate:
    delivery_id = f"m{message_id}" if delivery_id is None else delivery_id
    return Candidate(message_id, "email", sent, source, False, tuple(metrics), delivery_id)


def delivered(ts: datetime) -> MetricEvent:
    return MetricEvent("delivered", ts)


def credit_of(achieved_at: datetime, *candidates: Candidate, **settings: object) -> Credit | None:
    return attribute(
        achieved_at=achieved_at,
        candidates=candidates,
        sources=SOURCES,
        settings=AttributionSettings(**settings),  # type: ignore[arg-type]
        tz=BERLIN,
    )


class TestTheWindow:
    def test_it_starts_at_local_midnight_w_days_before_the_achievements_local_date(self) -> None:
        assert window_start(at("2026-03-10T15:00"), window_days=7, tz=BERLIN) == at(
            "2026-03-03T00:00"
        )

    def test_a_touch_exactly_at_the_window_start_qualifies_and_one_second_earlier_does_not(
        self,
    ) -> None:
        achieved = at("2026-01-20T08:00")
        start = at("2026-01-13T00:00")
        inside = email(1, start - timedelta(hours=1), delivered(start))
        outside = email(2, start - timedelta(hours=1), delivered(start - timedelta(seconds=1)))
        assert credit_of(achieved, inside) == Credit(1, ONBOARDING, start)
        assert credit_of(achieved, outside) is None

    def test_a_zero_day_window_is_the_same_local_day_before_the_achievement(self) -> None:
        achieved = at("2026-01-20T08:00")
        same_day = email(1, at("2026-01-20T00:00"), delivered(at("2026-01-20T00:00")))
        day_before = email(2, at("2026-01-19T23:59:59"), delivered(at("2026-01-19T23:59:59")))
        assert credit_of(achieved, same_day, window_days=0).message_id == 1  # type: ignore[union-attr]
        assert credit_of(achieved, day_before, window_days=0) is None

    def test_the_local_day_is_the_workspace_zones_not_utc(self) -> None:
        # 23:30 UTC on the 19th is 00:30 on the 20th in Berlin: the same local day.
        achieved = at("2026-01-20T08:00")
        touch = datetime(2026, 1, 19, 23, 30, tzinfo=UTC)
        assert credit_of(achieved, email(1, touch, delivered(touch)), window_days=0) is not None

    def test_a_ninety_day_window_reaches_back_ninety_local_days(self) -> None:
        achieved = at("2026-04-30T12:00")
        start = at("2026-01-30T00:00")
        assert window_start(achieved, window_days=90, tz=BERLIN) == start
        assert credit_of(achieved, email(1, start, delivered(start)), window_days=90) is not None
        early = start - timedelta(seconds=1)
        assert credit_of(achieved, email(2, early, delivered(early)), window_days=90) is None

    def test_a_daylight_saving_change_inside_the_window_does_not_shift_its_start(self) -> None:
        # Berlin springs forward on 2026-03-29; seven 24-hour days back from 2026-04-01 00:30
        # would land at 2026-03-24 23:30 local. The window starts at local midnight instead.
        achieved = at("2026-04-01T00:30")
        start = window_start(achieved, window_days=7, tz=BERLIN)
        assert start == at("2026-03-25T00:00")
        assert start.astimezone(UTC) == datetime(2026, 3, 24, 23, 0, tzinfo=UTC)
        just_before = start - timedelta(minutes=30)
        assert credit_of(achieved, email(1, just_before, delivered(just_before))) is None
        assert credit_of(achieved, email(2, start, delivered(start))) is not None


class TestTheTouch:
    def test_touches_after_the_achievement_are_ignored(self) -> None:
        achieved = at("2026-01-20T08:00")
        later = email(1, at("2026-01-20T08:00:01"), delivered(at("2026-01-20T08:00:01")))
        exact = email(2, at("2026-01-20T07:00"), delivered(at("2026-01-20T08:00")))
        assert credit_of(achieved, later) is None
        assert credit_of(achieved, later, exact) == Credit(2, ONBOARDING, achieved)

    def test_the_latest_touch_wins(self) -> None:
        achieved = at("2026-01-20T08:00")
        older = email(1, at("2026-01-18T08:00"), delivered(at("2026-01-18T08:00")))
        newer = email(2, at("2026-01-15T08:00"), delivered(at("2026-01-19T08:00")))
        assert credit_of(achieved, older, newer).message_id == 2  # type: ignore[union-attr]

    def test_ties_go_to_the_later_sent_time_then_the_higher_id(self) -> None:
        achieved = at("2026-01-20T08:00")
        touch = at("2026-01-19T08:00")
        sent_early = email(9, at("2026-01-18T08:00"), delivered(touch))
        sent_late = email(3, at("2026-01-19T07:00"), delivered(touch))
        twin = email(4, at("2026-01-19T07:00"), delivered(touch))
        assert credit_of(achieved, sent_early, sent_late).message_id == 3  # type: ignore[union-attr]
        assert credit_of(achieved, sent_early, sent_late, twin).message_id == 4  # type: ignore[union-attr]

    def test_the_higher_id_is_the_clients_delivery_id_not_the_arrival_order(self) -> None:
        """Row ids follow arrival; delivery ids are the client's (SPEC §7), so a tie is decided
        the same whichever message arrived first. Longer ids are higher ("m10" above "m9")."""
        achieved = at("2026-01-20T08:00")
        touch, sent = at("2026-01-19T08:00"), at("2026-01-19T07:00")
        b_first = email(1, sent, delivered(touch), delivery_id="B-ada")
        a_second = email(2, sent, delivered(touch), delivery_id="A-ada")
        assert credit_of(achieved, b_first, a_second).message_id == 1  # type: ignore[union-attr]
        ten_first = email(1, sent, delivered(touch), delivery_id="m10")
        nine_second = email(2, sent, delivered(touch), delivery_id="m9")
        assert credit_of(achieved, nine_second, ten_first).message_id == 1  # type: ignore[union-attr]

    def test_a_clicked_email_with_no_open_recorded_counts_as_opened(self) -> None:
        achieved = at("2026-01-20T08:00")
        clicked = email(1, at("2026-01-19T08:00"), MetricEvent("clicked", at("2026-01-19T09:00")))
        credit = credit_of(achieved, clicked, metrics={"email": "opened"})
        assert credit == Credit(1, ONBOARDING, at("2026-01-19T09:00"))

    def test_an_email_only_delivered_does_not_qualify_when_opens_are_required(self) -> None:
        achieved = at("2026-01-20T08:00")
        only_delivered = email(1, at("2026-01-19T08:00"), delivered(at("2026-01-19T08:01")))
        assert credit_of(achieved, only_delivered, metrics={"email": "opened"}) is None

    def test_the_touch_is_the_first_time_the_metric_or_a_later_one_was_reached(self) -> None:
        message = email(
            1,
            at("2026-01-19T08:00"),
            MetricEvent("clicked", at("2026-01-19T10:00")),
            MetricEvent("opened", at("2026-01-19T11:00")),
        )
        assert touch_time(message, qualifying_metric="opened", count_machine=True) == at(
            "2026-01-19T10:00"
        )
        assert touch_time(message, qualifying_metric="sent", count_machine=True) == at(
            "2026-01-19T08:00"
        )

    def test_machine_opens_count_by_default_and_not_when_excluded(self) -> None:
        achieved = at("2026-01-20T08:00")
        prefetched = email(
            1, at("2026-01-19T08:00"), MetricEvent("opened", at("2026-01-19T08:01"), machine=True)
        )
        assert credit_of(achieved, prefetched, metrics={"email": "opened"}) is not None
        assert (
            credit_of(achieved, prefetched, metrics={"email": "opened"}, count_machine=False)
            is None
        )

    def test_an_excluded_machine_click_still_proves_delivery(self) -> None:
        achieved = at("2026-01-20T08:00")
        scanned = email(
            1, at("2026-01-19T08:00"), MetricEvent("clicked", at("2026-01-19T08:02"), machine=True)
        )
        credit = credit_of(achieved, scanned, count_machine=False)  # default: delivered
        assert credit == Credit(1, ONBOARDING, at("2026-01-19T08:02"))
        assert (
            credit_of(achieved, scanned, metrics={"email": "clicked"}, count_machine=False) is None
        )

    def test_non_chain_metrics_never_qualify_a_message(self) -> None:
        achieved = at("2026-01-20T08:00")
        converted = email(
            1, at("2026-01-19T08:00"), MetricEvent("converted", at("2026-01-19T09:00"))
        )
        assert credit_of(achieved, converted) is None

    def test_channels_without_delivered_default_to_sent(self) -> None:
        achieved = at("2026-01-20T08:00")
        in_app = Candidate(1, "in_app", at("2026-01-19T08:00"), ONBOARDING)
        assert credit_of(achieved, in_app) == Credit(1, ONBOARDING, at("2026-01-19T08:00"))


class TestWhatNeverCounts:
    def test_anonymous_in_app_messages_never_count(self) -> None:
        achieved = at("2026-01-20T08:00")
        anonymous = Candidate(1, "in_app", at("2026-01-19T08:00"), ONBOARDING, anonymous=True)
        assert credit_of(achieved, anonymous) is None

    def test_transactional_messages_never_count(self) -> None:
        achieved = at("2026-01-20T08:00")
        receipt = email(1, at("2026-01-19T08:00"), delivered(at("2026-01-19T08:00")), source=None)
        assert credit_of(achieved, receipt) is None

    def test_messages_from_sources_outside_the_goal_never_count(self) -> None:
        achieved = at("2026-01-20T08:00")
        other = email(
            1, at("2026-01-19T08:00"), delivered(at("2026-01-19T08:00")), source=("campaign", 99)
        )
        own = email(2, at("2026-01-12T08:00"), delivered(at("2026-01-13T08:00")))
        assert credit_of(achieved, other) is None
        assert credit_of(achieved, other, own).message_id == 2  # type: ignore[union-attr]

    def test_unattributed_when_nothing_qualifies(self) -> None:
        assert credit_of(at("2026-01-20T08:00")) is None


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Asia/Kolkata", "Pacific/Auckland", "UTC"])
def test_the_window_start_is_a_local_midnight_in_any_zone(zone: str) -> None:
    tz = ZoneInfo(zone)
    achieved = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    start = window_start(achieved, window_days=3, tz=tz).astimezone(tz)
    assert (start.hour, start.minute) == (0, 0)
    assert start.date() == achieved.astimezone(tz).date() - timedelta(days=3)
