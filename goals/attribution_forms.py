"""The forms of the attribution pages: the source picker's query, "Edit sources" and the
attribution settings (SPEC §4.3-4.4).

The picker validates its filters with the API's own form (``goals.filters.SourceCandidateQuery``),
so the page and ``GET /goals/{id}/sources/candidates`` accept and refuse the same values. The
selection travels in the query string as repeated ``selected=campaign:12`` parameters, which is
what lets it survive paging and filtering without JavaScript.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django import forms

from campaigns import channels, values
from goals import criteria as rules
from goals.criteria import SOURCE_TYPES, SourceRef
from goals.filters import SourceCandidateQuery
from goals.models import Goal


def ref_text(ref: SourceRef) -> str:
    """``("campaign", 12)`` → ``"campaign:12"``, the form the query string carries."""
    return f"{ref[0]}:{ref[1]}"


def ref_parse(text: str) -> SourceRef | None:
    kind, _, pk = text.strip().partition(":")
    if kind in SOURCE_TYPES and pk.isascii() and pk.isdigit():
        with contextlib.suppress(ValueError):  # 0, or beyond 64 bits
            return (kind, values.parse_id(pk))
    return None


class SourceRefsField(forms.Field):
    """Repeated ``campaign:<id>`` / ``broadcast:<id>`` values → references, repeats dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[SourceRef]:
        if not value:
            return []
        texts = [value] if isinstance(value, str) else list(value)
        refs: list[SourceRef] = []
        for text in texts:
            ref = ref_parse(str(text))
            if ref is None:
                raise forms.ValidationError(
                    f'expected campaign:<id> or broadcast:<id>, not "{text}"', code="invalid"
                )
            if ref not in refs:
                refs.append(ref)
        return refs


class PickerQuery(SourceCandidateQuery):
    """The picker's state: the API's filters, the page (``p``) and the selection."""

    p = forms.CharField(required=False)
    selected = SourceRefsField(required=False)
    # The page has no ordering control; a stray ``?ordering=`` must not empty the list.
    ordering = None  # type: ignore[assignment]  # Django removes a field set to None
    # Its search box is ``search``, which every link carries; a ``name`` no link kept would
    # be lost on the next page.
    name = None  # type: ignore[assignment]


class SourcesRemoveQuery(forms.Form):
    """The "Edit sources" page's state: the page (``p``) and the sources ticked for removal."""

    p = forms.CharField(required=False)
    remove = SourceRefsField(required=False)


def _page_number(text: Any) -> int:
    text = str(text or "")
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 10**9 else 1


@dataclass(frozen=True)
class PickerState:
    """Everything the picker's URL holds; every link and button leads to a new state."""

    search: str = ""
    type: str = ""
    statuses: tuple[str, ...] = ()
    channel: str = ""
    tag: str = ""
    page: int = 1
    selected: tuple[SourceRef, ...] = ()

    FILTERS = ("type", "status", "channel", "tag")

    @classmethod
    def of(cls, query: PickerQuery) -> PickerState:
        """The valid part of a bound query (an invalid filter is left out)."""
        data: Mapping[str, Any] = getattr(query, "cleaned_data", {})
        return cls(
            search=(data.get("search") or "").strip(),
            # The API's filters take several values; the picker's links set one at a time.
            type=",".join(data.get("type") or ()),
            statuses=tuple(data.get("status") or ()),
            channel=",".join(data.get("channel") or ()),
            tag=",".join(data.get("tag") or ()),
            page=_page_number(data.get("p")),
            selected=tuple(data.get("selected") or ()),
        )

    @property
    def filtered(self) -> bool:
        return bool(self.search or self.type or self.statuses or self.channel or self.tag)

    def query_string(self) -> str:
        pairs: list[tuple[str, str]] = []
        if self.search:
            pairs.append(("search", self.search))
        if self.type:
            pairs.append(("type", self.type))
        pairs.extend(("status", status) for status in self.statuses)
        if self.channel:
            pairs.append(("channel", self.channel))
        if self.tag:
            pairs.append(("tag", self.tag))
        if self.page > 1:
            pairs.append(("p", str(self.page)))
        pairs.extend(("selected", ref_text(ref)) for ref in self.selected)
        return urlencode(pairs)

    def with_filter(self, name: str, value: str) -> PickerState:
        """One filter set to ``value`` ("" clears it), back on the first page."""
        if name == "status":
            return replace(self, statuses=(value,) if value else (), page=1)
        if name == "type":
            return replace(self, type=value, page=1)
        if name == "channel":
            return replace(self, channel=value, page=1)
        return replace(self, tag=value, page=1)

    def after(self, go: str) -> PickerState:
        """The state a pressed button leads to: ``page:N``, ``<filter>:<value>``, ``clear``,
        ``unselect:campaign:12``; anything else (the search button, Enter) keeps the
        posted search and filters, back on the first page."""
        action, _, argument = go.partition(":")
        if action == "page":
            return replace(self, page=_page_number(argument))
        if action in self.FILTERS:
            return self.with_filter(action, argument)
        if action == "clear":
            return replace(self, search="", type="", statuses=(), channel="", tag="", page=1)
        if action == "unselect":
            ref = ref_parse(argument)
            return replace(self, selected=tuple(r for r in self.selected if r != ref))
        return replace(self, page=1)


class AttributionSettingsForm(forms.Form):
    """One qualifying metric per channel (only that channel's chain, SPEC §3), whether machine
    opens and clicks count, and the window in whole days (SPEC §4.4)."""

    count_machine = forms.BooleanField(
        required=False,
        label="Count machine opens and clicks",
        help_text=(
            "Opens and clicks marked as made by a machine (a mail-privacy prefetch or a link "
            "scanner). Unticked, they do not make a message opened or clicked."
        ),
    )
    window_days = forms.IntegerField(
        min_value=0,
        max_value=rules.MAX_WINDOW_DAYS,
        label="Window (days)",
        help_text=(
            f"0 to {rules.MAX_WINDOW_DAYS}. A message counts when it reached its metric on or "
            "after local midnight this many days before the achievement's day (0: the same day)."
        ),
        error_messages={
            "invalid": "Enter a whole number of days.",
            "required": "Enter a whole number of days.",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": rules.MAX_WINDOW_DAYS, "step": 1}),
    )

    def __init__(self, *args: Any, goal: Goal, read_only: bool = False, **kwargs: Any) -> None:
        metrics = {**channels.default_attribution_metrics(), **(goal.metrics or {})}
        kwargs.setdefault(
            "initial",
            {
                "count_machine": goal.count_machine,
                "window_days": goal.window_days,
                **{self.metric_field(c): metrics[c] for c in channels.CHANNELS},
            },
        )
        super().__init__(*args, **kwargs)
        labels = dict(channels.CHANNEL_CHOICES)
        metric_fields = {
            self.metric_field(channel): forms.ChoiceField(
                label=labels[channel],
                choices=[(metric, metric.capitalize()) for metric in chain],
                help_text=" → ".join(chain),
            )
            for channel, chain in channels.CHANNEL_CHAINS.items()
        }
        # The metrics first, in the table's order, as the product page lists them.
        self.fields = {**metric_fields, **self.fields}
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def metric_field(channel: str) -> str:
        return f"metric_{channel}"

    def metric_rows(self) -> list[tuple[forms.BoundField, str]]:
        """Each channel's select with its default metric, in the table's order."""
        return [
            (self[self.metric_field(channel)], channels.default_qualifying_metric(channel))
            for channel in channels.CHANNELS
        ]

    def attribution(self) -> dict[str, Any]:
        """The cleaned settings in the API's shape, for ``goals.services.goal_update``."""
        data = self.cleaned_data
        return {
            "window_days": data["window_days"],
            "metrics": {c: data[self.metric_field(c)] for c in channels.CHANNELS},
            "count_machine": data["count_machine"],
        }

    def add_service_errors(self, errors: Mapping[str, list[str]]) -> None:
        """Put a ``DomainError``'s ``attribution.*`` reasons beside their fields."""
        for name, reasons in errors.items():
            path = name.removeprefix("attribution.")
            if path.startswith("metrics."):
                field: str | None = self.metric_field(path.removeprefix("metrics."))
            else:
                field = path
            if field not in self.fields:
                field = None
            for reason in reasons:
                self.add_error(field, reason)
