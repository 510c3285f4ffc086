"""List filters for campaigns, broadcasts and segments (SPEC §7: by status, kind, channel, tag,
name). The goal source picker filters the same way, so it can reuse these.

Multi-valued filters accept repeats and commas alike (``?status=running&status=draft`` or
``?status=running,draft``) and match any of the values. Unknown values are a 400 naming the
parameter and the allowed values, never a silently empty list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request

from campaigns import channels, values
from campaigns.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
    Segment,
)


class _CommaSeparated:
    """Accept ``?x=a&x=b``, ``?x=a,b`` and mixes of the two; a repeated value is read once
    (each value is one more OR in the SQL, and SQLite refuses an expression some 1,000 deep)."""

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)  # type: ignore[misc]
        parts = [part.strip() for item in values for part in item.split(",") if part.strip()]
        return list(dict.fromkeys(parts))


#: The most tags one filter takes (``CommaSeparatedCharField``): every tag is one more OR in
#: the SQL, and some 500 of them made SQLite's expression tree too deep (a 500).
MAX_FILTER_TAGS = 100


class CommaSeparatedMultipleChoiceField(_CommaSeparated, forms.MultipleChoiceField):
    """Several values, each checked against the choices."""


class CommaSeparatedCharField(_CommaSeparated, forms.MultipleChoiceField):
    """Several free-text values (tag names)."""

    def valid_value(self, value: Any) -> bool:
        return True

    def validate(self, value: Any) -> None:
        super().validate(value)
        # A tag compared in SQL: PostgreSQL refuses U+0000 in a query (a 500 there).
        if any("\x00" in item for item in value):
            raise forms.ValidationError(values.NUL_ERROR, code="null_characters_not_allowed")
        if len(value) > MAX_FILTER_TAGS:
            raise forms.ValidationError(
                f"at most {MAX_FILTER_TAGS} tags at once, not {len(value)}", code="max_tags"
            )


class AnyOfChoicesFilter(django_filters.MultipleChoiceFilter):
    """Rows matching any of the given choices; an unknown value names the allowed ones."""

    field_class = CommaSeparatedMultipleChoiceField

    def __init__(self, *, noun: str, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        allowed = ", ".join(value for value, _ in choices)
        kwargs.setdefault(
            "error_messages",
            {"invalid_choice": f'unknown {noun} "%(value)s"; expected one of {allowed}'},
        )
        super().__init__(choices=choices, **kwargs)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "maxItems": MAX_FILTER_TAGS,
        "description": "Carries any of these tags (case-insensitive).",
    }
)
class TagFilter(django_filters.Filter):
    """Objects carrying any of the tags, compared case-insensitively.

    A subquery rather than a join: an object with two matching tags must appear once, and a
    DISTINCT would fight with the ordering and the count query.
    """

    field_class = CommaSeparatedCharField

    def filter(self, qs: QuerySet[Any], value: list[str]) -> QuerySet[Any]:
        if not value:
            return qs
        wanted = Q()
        for name in value:
            wanted |= Q(tags__name__iexact=name)
        return qs.filter(pk__in=qs.model.objects.filter(wanted).values("pk"))


class ChannelFilter(AnyOfChoicesFilter):
    """Broadcasts using any of the channels.

    ``channels`` is a JSON list; matching the quoted name as a substring of its JSON text works
    on SQLite and PostgreSQL alike (``contains`` on a JSON list does not exist on SQLite), and
    the quotes keep ``"email"`` from matching a longer name.
    """

    def filter(self, qs: QuerySet[Any], value: list[str]) -> QuerySet[Any]:
        if not value:
            return qs
        wanted = Q()
        for channel in value:
            wanted |= Q(channels__icontains=f'"{channel}"')
        return qs.filter(wanted)


#: The filters SPEC §7 names for the messaging objects, in the order the errors list them.
MESSAGING_FILTERS = ("name", "status", "kind", "channel", "tag")


class MessagingFilterSet(django_filters.FilterSet):
    """Refuses a messaging filter its list does not have (a campaign has no kind or channels, a
    segment only a name) with a 400 naming it: ignored, ``/campaigns?channel=email`` answered
    every campaign, as if each one used email."""

    noun = ""

    def is_valid(self) -> bool:
        missing = [n for n in MESSAGING_FILTERS if n in self.data and n not in self.filters]
        if missing:
            allowed = ", ".join(n for n in MESSAGING_FILTERS if n in self.filters)
            raise ValidationError(
                {n: [f"{self.noun} have no {n}; their filters are {allowed}"] for n in missing}
            )
        return bool(super().is_valid())


class CampaignFilter(MessagingFilterSet):
    noun = "campaigns"

    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    status = AnyOfChoicesFilter(
        noun="status", choices=CampaignStatus.choices, help_text="Any of these statuses."
    )
    tag = TagFilter(help_text="Carries any of these tags (case-insensitive).")

    class Meta:
        model = Campaign
        fields = ["name", "status", "tag"]


class BroadcastFilter(MessagingFilterSet):
    noun = "broadcasts"

    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    kind = AnyOfChoicesFilter(
        noun="kind", choices=BroadcastKind.choices, help_text="Any of these kinds."
    )
    status = AnyOfChoicesFilter(
        noun="status", choices=BroadcastStatus.choices, help_text="Any of these statuses."
    )
    channel = ChannelFilter(
        noun="channel", choices=channels.CHANNEL_CHOICES, help_text="Uses any of these channels."
    )
    tag = TagFilter(help_text="Carries any of these tags (case-insensitive).")

    class Meta:
        model = Broadcast
        fields = ["name", "kind", "status", "channel", "tag"]


class SegmentFilter(MessagingFilterSet):
    noun = "segments"

    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")

    class Meta:
        model = Segment
        fields = ["name"]


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` with the id as the last key: rows with equal names or timestamps keep
    one order from page to page. An unknown key is a 400 naming ``ordering`` (DRF would drop
    it silently and answer in the default order, which a client cannot tell from success)."""

    ordering_description = (
        "Sort by `name`, `created_at` or `updated_at`; prefix `-` to reverse; "
        "several keys separated by commas."
    )

    def remove_invalid_fields(
        self, queryset: QuerySet[Any], fields: Iterable[str], view: Any, request: Request
    ) -> list[str]:
        fields = [term for term in fields if term]  # "name," is just "name"
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        unknown = [term for term in fields if term not in valid]
        if unknown:
            allowed = ", ".join(
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            )
            raise ValidationError(
                {
                    self.ordering_param: [
                        f'unknown ordering "{term}"; expected one of {allowed} '
                        "(prefix - to reverse)"
                        for term in unknown
                    ]
                }
            )
        return valid

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if ordering and not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("id")
        return ordering

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        """Names sort case-insensitively, as the dashboard and the picker sort them (and as
        people read a list), whatever the database's collation: "apple" before "Banana"."""
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        terms: list[Any] = []
        for term in ordering:
            if term.lstrip("-") == "name":
                terms.append(Lower("name").desc() if term.startswith("-") else Lower("name").asc())
            else:
                terms.append(term)
        return queryset.order_by(*terms)


#: The most different words one search takes: each is one more condition in the SQL, and
#: 1,000 of them made SQLite's expression tree too deep (a 500).
MAX_SEARCH_WORDS = 100


class NameSearchFilter(SearchFilter):
    search_description = "Words that must all appear in the name (case-insensitive)."

    def get_search_terms(self, request: Request) -> list[str]:
        # DRF's own error (a NUL character) names no field; a 400 names the parameter.
        try:
            terms = list(dict.fromkeys(super().get_search_terms(request)))
        except ValidationError as error:
            raise ValidationError({self.search_param: error.detail}) from None
        if len(terms) > MAX_SEARCH_WORDS:
            raise ValidationError(
                {self.search_param: [f"at most {MAX_SEARCH_WORDS} words at once, not {len(terms)}"]}
            )
        return terms
