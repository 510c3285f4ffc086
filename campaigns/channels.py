"""Channels, their metric chains, and what "reaching" a metric means (SPEC §3).

Pure data and functions: no ORM, no I/O. Ingestion validates against it, the attribution rule
and its set-based SQL twin derive touch times from it, and the settings UI lists each channel's
own metrics from it.
"""

from __future__ import annotations

from typing import Final

SENT: Final = "sent"
DELIVERED: Final = "delivered"
OPENED: Final = "opened"
CLICKED: Final = "clicked"

#: The full chain, in order. A channel's chain is a subsequence of it.
CHAIN: Final[tuple[str, ...]] = (SENT, DELIVERED, OPENED, CLICKED)
LEVEL: Final[dict[str, int]] = {metric: level for level, metric in enumerate(CHAIN)}

#: Recorded, never qualifying a message for attribution.
OTHER_METRICS: Final[tuple[str, ...]] = (
    "converted",
    "bounced",
    "dropped",
    "failed",
    "spammed",
    "unsubscribed",
)

#: Metrics that may carry ``machine: true`` (a privacy prefetch or a link scanner).
MACHINE_METRICS: Final[frozenset[str]] = frozenset({OPENED, CLICKED})

CHANNEL_CHAINS: Final[dict[str, tuple[str, ...]]] = {
    "email": (SENT, DELIVERED, OPENED, CLICKED),
    "push": (SENT, DELIVERED, OPENED, CLICKED),
    "whatsapp": (SENT, DELIVERED, OPENED, CLICKED),
    "sms": (SENT, DELIVERED, CLICKED),
    "in_app": (SENT, OPENED, CLICKED),
    "webhook": (SENT, CLICKED),
    "slack": (SENT, CLICKED),
}

CHANNELS: Final[tuple[str, ...]] = tuple(CHANNEL_CHAINS)
CHANNEL_CHOICES: Final[list[tuple[str, str]]] = [
    ("email", "Email"),
    ("push", "Push"),
    ("whatsapp", "WhatsApp"),
    ("sms", "SMS"),
    ("in_app", "In-app"),
    ("webhook", "Webhook"),
    ("slack", "Slack"),
]
ALL_METRICS: Final[tuple[str, ...]] = CHAIN + OTHER_METRICS
METRIC_CHOICES: Final[list[tuple[str, str]]] = [(m, m.capitalize()) for m in ALL_METRICS]


def channel_metrics(channel: str) -> tuple[str, ...]:
    """Every metric a message on ``channel`` may record: its chain, then the non-chain ones.

    The non-chain metrics (converted, bounced, ...) are accepted on every channel: the spec
    records them without tying them to channels, and they never affect attribution.
    """
    return CHANNEL_CHAINS[channel] + OTHER_METRICS


def metric_error(channel: str, metric: str) -> str | None:
    """Why ``metric`` cannot be recorded on ``channel``, or None when it can."""
    if channel not in CHANNEL_CHAINS:
        return f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
    if metric not in ALL_METRICS:
        return f"unknown metric {metric!r}; expected one of {', '.join(ALL_METRICS)}"
    if metric not in channel_metrics(channel):
        return (
            f"the {channel} channel has no {metric!r} metric; "
            f"it has {', '.join(channel_metrics(channel))}"
        )
    return None


def default_qualifying_metric(channel: str) -> str:
    """`delivered` where the channel has it, else `sent` (SPEC §4.4)."""
    return DELIVERED if DELIVERED in CHANNEL_CHAINS[channel] else SENT


def default_attribution_metrics() -> dict[str, str]:
    return {channel: default_qualifying_metric(channel) for channel in CHANNELS}
