"""Query parameters of the goal endpoints: the goal list's filters, the source picker's and the
achievement list's (SPEC §7). Bad values are a 400 naming the parameter, never an empty list.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any, Final

import django_filters
from django import forms
from django.db.models import F, QuerySet
from django.db.models.functions import Lower

from campaigns import channels, values
from campaigns.filters import (
    AnyOfChoicesFilter,
    CommaSeparatedCharField,
    CommaSeparatedMultipleChoiceField,
    NameSearchFilter,
    TagFilter,
)
from campaigns.models import BroadcastStatus, CampaignStatus
from goals.criteria import SOURCE_TYPES, SourceRef
from goals.models import Goal, GoalStatus


class GoalFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    status = AnyOfChoicesFilter(
        noun="status",
        choices=GoalStatus.choices,
        help_text="Any of these statuses (`ready`, `recomputing`).",
    )
    tag = TagFilter(help_text="Carries any of these tags (case-insensitive).")

    class Meta:
        model = Goal
        fields = ["name", "status", "tag"]


class GoalSearchFilter(NameSearchFilter):
    search_description = "Words that must all appear in the name or the description."


def _allowed(values: list[str]) -> str:
    return ", ".join(values)


class FixedOrderField(forms.CharField):
    """``?ordering=`` on a list with one fixed order: refused with a 400 naming ``ordering``
    (decisions.md, Lists: an unknown ordering is never silently the default order)."""

    def __init__(self, *, order: str, **kwargs: Any) -> None:
        self.order = order
        super().__init__(required=False, **kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value:
            raise forms.ValidationError(
                f"this list is always ordered by {self.order}; it takes no ordering",
                code="invalid",
            )


#: A source picker status is a campaign's or a broadcast's (``draft`` is both).
CANDIDATE_STATUSES = list(dict.fromkeys([*CampaignStatus.values, *BroadcastStatus.values]))


class SourceCandidateQuery(forms.Form):
    """``GET /goals/{id}/sources/candidates`` parameters.

    ``type``, ``status``, ``channel`` and ``tag`` take repeats or commas and match any of the
    values, as the campaign and broadcast lists' filters do. ``channel`` keeps broadcasts
    using one of the channels; campaigns have no channel list, so any channel filter leaves
    campaigns out.
    """

    search = forms.CharField(required=False, help_text="Name contains (case-insensitive).")
    # As on the campaign and broadcast lists (SPEC §7 filters them by name); with ``search``
    # too, both must match.
    name = forms.CharField(required=False, help_text="Name contains (case-insensitive).")
    type = CommaSeparatedMultipleChoiceField(
        required=False,
        choices=[(t, t) for t in SOURCE_TYPES],
        error_messages={
            "invalid_choice": (
                f'unknown type "%(value)s"; expected one of {_allowed(list(SOURCE_TYPES))}'
            )
        },
    )
    status = CommaSeparatedMultipleChoiceField(
        required=False,
        choices=[(s, s) for s in CANDIDATE_STATUSES],
        error_messages={
            "invalid_choice": (
                f'unknown status "%(value)s"; expected one of {_allowed(CANDIDATE_STATUSES)}'
            )
        },
    )
    channel = CommaSeparatedMultipleChoiceField(
        required=False,
        choices=channels.CHANNEL_CHOICES,
        error_messages={
            "invalid_choice": (
                f'unknown channel "%(value)s"; expected one of {_allowed(list(channels.CHANNELS))}'
            )
        },
    )
    tag = CommaSeparatedCharField(required=False)
    ordering = FixedOrderField(order="name, then type, then id")

    def selector_arguments(self) -> dict[str, Any]:
        """The cleaned parameters as ``goals.selectors.source_candidates`` takes them."""
        data = self.cleaned_data
        return {
            "search": data["search"].strip(),
            "name": data.get("name", "").strip(),
            "types": data["type"],
            "statuses": data["status"],
            "channels": data["channel"],
            "tags": data["tag"],
        }


class SourceField(forms.CharField):
    """``campaign:12`` or ``broadcast:7``."""

    def to_python(self, value: Any) -> SourceRef | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        kind, _, pk = text.partition(":")
        if kind in SOURCE_TYPES and pk.isascii() and pk.isdigit():
            with contextlib.suppress(ValueError):  # 0, or beyond 64 bits
                return (kind, values.parse_id(pk))
        raise forms.ValidationError(
            f'expected campaign:<id> or broadcast:<id>, not "{text}"', code="invalid"
        )


_DATE = {"invalid": "must be a date like 2025-11-30"}


class IdField(forms.CharField):
    """The id of one of our rows (``values.parse_id``: a whole number from 1, within 64 bits)."""

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return values.parse_id(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class QueryBooleanField(forms.CharField):
    """``true`` / ``false`` in any case, or ``1`` / ``0``: what HTTP clients make of a boolean
    (Python's send ``True``). Anything else is refused rather than read as false."""

    VALUES: Final = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return self.VALUES[text.strip().lower()]
        except KeyError:
            raise forms.ValidationError(
                f'must be true or false, not "{text}"', code="invalid"
            ) from None


class AchievementQuery(forms.Form):
    """``GET /goals/{id}/achievements`` parameters.

    The source is given as ``source=campaign:12``, as ``source_type`` and ``source_id`` (the
    names of the achievement's own ``source`` object), or as ``campaign=12`` / ``broadcast=7``;
    ``date`` is a one-day range.
    """

    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], error_messages=_DATE)
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"], error_messages=_DATE)
    date = forms.DateField(required=False, input_formats=["%Y-%m-%d"], error_messages=_DATE)
    source = SourceField(required=False)
    source_type = forms.ChoiceField(
        required=False,
        choices=[(t, t) for t in SOURCE_TYPES],
        error_messages={
            "invalid_choice": (
                f'unknown source type "%(value)s"; expected one of {_allowed(list(SOURCE_TYPES))}'
            )
        },
    )
    source_id = IdField(required=False)
    campaign = IdField(required=False)
    broadcast = IdField(required=False)
    attributed = QueryBooleanField(required=False)
    ordering = FixedOrderField(order="achieved_at, then id")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        day: date | None = data.get("date")
        if day and (start or end):
            self.add_error("date", "a single day; not with start or end")
        elif day:
            data["start"] = data["end"] = day
        elif start and end and end < start:
            self.add_error("end", "must be on or after start")
        self._clean_source(data)
        return data

    def _clean_source(self, data: dict[str, Any]) -> None:
        """Read the ways of naming a source into ``data["source"]``."""
        given = {name for name in ("source_type", "source_id") if self.data.get(name)}
        if len(given) == 1:
            (named,) = given
            missing = "source_id" if named == "source_type" else "source_type"
            self.add_error(missing, f"give {missing} with {named}")
            return
        names = ("source", "source_type", "source_id", *SOURCE_TYPES)
        if any(name in self.errors for name in names):
            return
        refs: set[SourceRef] = set()
        if data.get("source"):
            refs.add(data["source"])
        if data.get("source_type") and data.get("source_id"):
            refs.add((data["source_type"], data["source_id"]))
        for kind in SOURCE_TYPES:
            if data.get(kind):
                refs.add((kind, data[kind]))
        if len(refs) > 1:
            self.add_error("source", "give one source to filter by")
        data["source"] = refs.pop() if len(refs) == 1 else None

    def selector_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "start": data["start"],
            "end": data["end"],
            "source": data["source"],
            "attributed": data["attributed"],
        }


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """A form's errors as the API reports them: ``{"param": ["reason"]}``."""
    return {name: [str(message) for message in messages] for name, messages in form.errors.items()}


# --- the goals dashboard (UI) -------------------------------------------------------------------


class GoalSortFilter(django_filters.ChoiceFilter):
    """``o``: the dashboard's sort, done in SQL. ``total`` and ``impact`` sort by the period
    totals ``goals.selectors.goals_with_period_totals`` annotates; a leading ``-`` reverses.
    Every order ends with the id, so goals with equal keys keep one order from page to page;
    no value sorts by name (case-insensitively, as people read a list)."""

    KEYS: Final[dict[str, Any]] = {
        "name": Lower("name"),
        "created": F("created_at"),
        "updated": F("updated_at"),
        "total": F("period_people"),
        "impact": F("period_revenue_micro"),
    }
    DEFAULT: Final = "name"

    def __init__(self, **kwargs: Any) -> None:
        choices = [
            (f"{sign}{key}", f"{key} ({'descending' if sign else 'ascending'})")
            for key in self.KEYS
            for sign in ("", "-")
        ]
        kwargs.setdefault(
            "error_messages",
            {
                "invalid_choice": f'unknown sort "%(value)s"; expected one of '
                f"{', '.join(value for value, _ in choices)}"
            },
        )
        super().__init__(choices=choices, **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        wanted = value or self.DEFAULT
        key = wanted.removeprefix("-")
        expression = self.KEYS[key]
        descending = wanted.startswith("-")
        return qs.order_by(
            expression.desc() if descending else expression.asc(),
            "-id" if descending else "id",
        )


class GoalDashboardFilter(django_filters.FilterSet):
    """The goals dashboard's query parameters: ``q`` (name contains), ``tag`` (any of, case-
    insensitive), ``status`` and ``o`` (sort). The queryset must carry the period totals
    (``goals.selectors.goals_with_period_totals``) for the ``total`` and ``impact`` sorts."""

    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    tag = TagFilter(label="Tag")
    status = django_filters.ChoiceFilter(choices=GoalStatus.choices, label="Status")
    o = GoalSortFilter(label="Sort")

    class Meta:
        model = Goal
        fields = ["q", "tag", "status", "o"]
