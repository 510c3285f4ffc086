"""The goal builder (create / edit a goal): a form whose fields are what a marketer fills in,
and whose ``clean`` assembles the API's JSON shapes (SPEC §7) for ``goals.services``.

The rules are not repeated here: ``clean`` asks ``goals.criteria`` (the rules the API and the
services apply) and ``save`` calls ``goal_create`` / ``goal_update``; every ``DomainError`` they
raise names the bad part by its dotted path (``criteria.trigger.name``, ``impact.currency``,
``criteria.filters.1.value``), which ``add_domain_errors`` puts back beside the field or row the
user typed it in. What the form checks itself is only what a select or a blank field can tell.

Condition and filter rows are formsets (prefixes ``conditions`` and ``filters``); ``builder.js``
adds and removes rows and shows the fields of the chosen trigger and impact. Rows left blank are
ignored, so the page also submits correctly without JavaScript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms import BoundField, formset_factory

from campaigns import channels
from campaigns.errors import DomainError
from campaigns.models import Broadcast, Campaign, Segment, Workspace
from campaigns.sources import tags_clean
from goals import criteria as rules
from goals import currencies, services
from goals.conditions import VALUELESS_OPERATORS
from goals.models import Goal, TriggerKind

OPERATOR_CHOICES: Final = [
    ("eq", "equals"),
    ("neq", "does not equal"),
    ("gt", "is greater than"),
    ("gte", "is at least"),
    ("lt", "is less than"),
    ("lte", "is at most"),
    ("contains", "contains"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
]
#: Filter kinds as the builder offers them; both segment ones are a ``segment`` filter.
FILTER_KINDS: Final = [
    ("attribute", "Attribute"),
    ("in_segment", "Is in segment"),
    ("not_in_segment", "Is not in segment"),
]
IMPACT_MODES: Final = [
    ("none", "No impact"),
    ("static", "A fixed amount per achievement"),
    ("event_key", "An amount read from the event's data"),
]
VALUE_HELP: Final = (
    "Numbers and numeric text compare as numbers; true / false are yes-or-no values; "
    "anything else is text."
)


def _value_from_text(text: str, op: str) -> Any:
    """A condition's value as typed: ``true`` / ``false`` are booleans where they can be
    (equality), everything else stays text (numeric text compares as a number anyway, and
    ``contains`` needs text)."""
    text = text.strip()
    if op in ("eq", "neq") and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _value_to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _condition_initial(condition: Mapping[str, Any]) -> dict[str, str]:
    return {
        "key": str(condition.get("key") or ""),
        "op": str(condition.get("op") or "eq"),
        "value": _value_to_text(condition.get("value")),
    }


#: (key, operator, value as the builder shows it) -> the value stored under that text.
StoredValues = Mapping[tuple[str, str, str], Any]


def stored_values(conditions: Iterable[Any]) -> dict[tuple[str, str, str], Any]:
    """The stored values of ``conditions`` by the row the builder shows for each. A row saved
    as it was shown keeps its stored value: the text "true" and the value true (or 29 and
    "29") look alike in the builder but are not the same condition."""
    values: dict[tuple[str, str, str], Any] = {}
    for condition in conditions:
        if isinstance(condition, Mapping) and "value" in condition:
            shown = _condition_initial(condition)
            values[(shown["key"].strip(), shown["op"], shown["value"].strip())] = condition["value"]
    return values


def _row_value(stored: StoredValues, row: tuple[str, str, str]) -> dict[str, Any]:
    """``{"value": ...}`` of a row (key, operator, text as typed), or ``{}`` for no value: a
    row shown as it was keeps its stored value, the empty text the API accepts included (an
    empty box otherwise means "no value", and an edit of another row refused the untouched
    one as "required")."""
    if row in stored:
        return {"value": stored[row]}
    text = row[2]
    return {"value": _value_from_text(text, row[1])} if text else {}


def _optional_id(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


#: What the builder shows of a goal: (its fields, its condition rows, its filter rows).
Initial = tuple[dict[str, Any], list[dict[str, str]], list[dict[str, str]]]


def criteria_initial(criteria: Any) -> Initial:
    """Stored criteria as the builder shows them: (the fields, the condition rows, the filter
    rows). Also how two criteria are compared "as the user sees them"."""
    criteria = criteria if isinstance(criteria, Mapping) else {}
    trigger = criteria.get("trigger") if isinstance(criteria.get("trigger"), Mapping) else {}
    assert isinstance(trigger, Mapping)
    kind = trigger.get("type") or TriggerKind.EVENT
    fields: dict[str, Any] = {"trigger_type": kind}
    conditions: list[dict[str, str]] = []
    if kind == "event":
        fields["event_name"] = trigger.get("name") or ""
        conditions = [
            _condition_initial(c) for c in trigger.get("conditions") or [] if isinstance(c, Mapping)
        ]
    elif kind == "attribute":
        condition = _condition_initial(trigger)
        fields.update(
            attribute_key=condition["key"],
            attribute_op=condition["op"],
            attribute_value=condition["value"],
        )
    elif kind == "segment":
        fields["segment"] = _optional_id(trigger.get("segment"))
    elif kind == "message":
        fields.update(
            message_metric=trigger.get("metric") or "",
            message_channel=trigger.get("channel") or "",
            message_campaign=_optional_id(trigger.get("campaign")),
            message_broadcast=_optional_id(trigger.get("broadcast")),
        )
    filters: list[dict[str, str]] = []
    for item in criteria.get("filters") or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "segment":
            filters.append(
                {
                    "kind": "in_segment" if item.get("in", True) else "not_in_segment",
                    "segment": _optional_id(item.get("segment")),
                    "key": "",
                    "op": "eq",
                    "value": "",
                }
            )
        else:
            filters.append({"kind": "attribute", "segment": "", **_condition_initial(item)})
    return fields, conditions, filters


def _choices(rows: Iterable[Any], blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((str(row.pk), str(row)) for row in rows)]


def _referenced(workspace: Workspace, model: Any, keep: Iterable[str | None]) -> list[Any]:
    """The workspace's live rows of ``model`` by name, plus the deleted ones whose ids are in
    ``keep`` (a goal may keep referring to a row deleted since, SPEC §3), in one query."""
    ids = {int(pk) for pk in keep if pk}
    rows = model.objects.in_workspace(workspace).order_by("name", "pk")
    wanted = Q(deleted_at__isnull=True) | Q(pk__in=ids) if ids else Q(deleted_at__isnull=True)
    return list(rows.filter(wanted))


class ConditionForm(forms.Form):
    """One data condition of an event trigger."""

    key = forms.CharField(required=False, max_length=rules.MAX_KEY_LENGTH, label="Data key")
    op = forms.ChoiceField(choices=OPERATOR_CHOICES, initial="eq", label="Operator")
    value = forms.CharField(required=False, label="Value")

    #: A row's inputs sit under the table's column headings, which label nothing for a screen
    #: reader: each input is named by its row instead ("Condition 2 operator"). ``data-label``
    #: keeps the pattern, so builder.js renames the inputs when it renumbers the rows.
    row_noun: ClassVar[str] = "Condition"
    part_names: ClassVar[dict[str, str]] = {"key": "key", "op": "operator", "value": "value"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        number = self.row_number
        for name, part in self.part_names.items():
            pattern = f"{self.row_noun} {{n}} {part}"
            label = pattern.replace("{n}", number) if number else f"{self.row_noun} {part}"
            self.fields[name].widget.attrs.update({"aria-label": label, "data-label": pattern})

    @property
    def row_number(self) -> str:
        """The row's number as the page shows it (1 for ``conditions-0``); "" for the empty
        form builder.js copies (it numbers the copy)."""
        index = (self.prefix or "").rpartition("-")[2]
        return str(int(index) + 1) if index.isdigit() else ""

    def is_blank(self) -> bool:
        """Nothing typed in (an added row left as it was is not even cleaned: no data)."""
        data = self.cleaned_data
        return not (data.get("key") or "").strip() and not (data.get("value") or "").strip()

    def condition(self, stored: StoredValues | None = None) -> dict[str, Any]:
        data = self.cleaned_data
        op = data.get("op") or "eq"
        key = (data.get("key") or "").strip()
        condition: dict[str, Any] = {"key": key or None, "op": op}
        text = (data.get("value") or "").strip()
        if op not in VALUELESS_OPERATORS:
            condition.update(_row_value(stored or {}, (key, op, text)))
        return condition


class FilterForm(ConditionForm):
    """One filter: a person attribute condition, or being (not) in a segment."""

    kind = forms.ChoiceField(choices=FILTER_KINDS, initial="attribute", label="Filter")
    segment = forms.ChoiceField(required=False, label="Segment")
    key = forms.CharField(required=False, max_length=rules.MAX_KEY_LENGTH, label="Attribute")

    field_order = ["kind", "key", "op", "value", "segment"]
    row_noun = "Filter"
    part_names = {
        "kind": "type",
        "key": "attribute",
        "segment": "segment",
        "op": "operator",
        "value": "value",
    }

    def __init__(self, *args: Any, segment_choices: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["segment"]).choices = segment_choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") in ("in_segment", "not_in_segment") and not data.get("segment"):
            self.add_error("segment", "Choose a segment.")
        return data

    def is_blank(self) -> bool:
        # Choosing a segment filter is an intent: such a row is never blank.
        kind = self.cleaned_data.get("kind", "attribute")
        return kind == "attribute" and super().is_blank()

    def filter(self, stored: StoredValues | None = None) -> dict[str, Any]:
        kind = self.cleaned_data.get("kind")
        if kind in ("in_segment", "not_in_segment"):
            return {
                "type": "segment",
                "segment": int(self.cleaned_data["segment"]),
                "in": kind == "in_segment",
            }
        return {"type": "attribute", **self.condition(stored)}


ConditionFormSet = formset_factory(ConditionForm, extra=0)
FilterFormSet = formset_factory(FilterForm, extra=0)

#: Dotted error paths of the API (``goals.criteria``, ``goals.services``) -> builder fields.
FIELD_OF_PATH: Final[dict[str, str]] = {
    "name": "name",
    "description": "description",
    "tags": "tags",
    "criteria.trigger.type": "trigger_type",
    "criteria.trigger.name": "event_name",
    "criteria.trigger.key": "attribute_key",
    "criteria.trigger.op": "attribute_op",
    "criteria.trigger.value": "attribute_value",
    "criteria.trigger.segment": "segment",
    "criteria.trigger.metric": "message_metric",
    "criteria.trigger.channel": "message_channel",
    "criteria.trigger.campaign": "message_campaign",
    "criteria.trigger.broadcast": "message_broadcast",
    "impact.currency": "impact_currency",
    "impact.static": "impact_static",
    "impact.event_key": "impact_event_key",
    # The model's own checks (lengths, money digits), named by column.
    "impact_currency": "impact_currency",
    "impact_static": "impact_static",
    "impact_event_key": "impact_event_key",
}
#: A whole-trigger problem ("give campaign or broadcast, not both") goes beside its last field.
TRIGGER_FIELD: Final = {
    "event": "event_name",
    "attribute": "attribute_key",
    "segment": "segment",
    "message": "message_broadcast",
}
_ROW_PATH = re.compile(r"^criteria\.(?:trigger\.(conditions)|(filters))\.(\d+)(?:\.(\w+))?$")


class GoalForm(forms.Form):
    """Name, description, tags, criteria (one trigger, its conditions, filters) and impact.

    ``workspace`` is the goal's workspace; ``goal`` the goal being edited (None: a new one).
    After ``is_valid()``, ``criteria`` and ``impact`` hold the API shapes, and ``save()``
    writes the goal (or returns None with the services' errors added to the form).
    """

    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )
    tags = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Separate tags with commas, e.g. <em>revenue, onboarding</em>.",
    )

    trigger_type = forms.ChoiceField(
        choices=TriggerKind.choices,
        initial=TriggerKind.EVENT,
        widget=forms.RadioSelect,
        label="A person achieves the goal when",
    )
    event_name = forms.CharField(
        required=False, max_length=rules.MAX_KEY_LENGTH, label="Event name"
    )
    attribute_key = forms.CharField(
        required=False,
        max_length=rules.MAX_KEY_LENGTH,
        label="Attribute",
        help_text="A key, or a dotted path like <code>plan.tier</code>.",
    )
    attribute_op = forms.ChoiceField(choices=OPERATOR_CHOICES, initial="eq", label="Operator")
    attribute_value = forms.CharField(required=False, label="Value", help_text=VALUE_HELP)
    segment = forms.ChoiceField(required=False, label="Segment")
    message_metric = forms.ChoiceField(
        required=False,
        choices=[("", "Choose a metric"), *channels.METRIC_CHOICES],
        label="Metric",
        help_text="A message that reached this metric (or a later step of its channel's chain).",
    )
    message_channel = forms.ChoiceField(
        required=False, choices=[("", "Any channel"), *channels.CHANNEL_CHOICES], label="Channel"
    )
    message_campaign = forms.ChoiceField(required=False, label="Campaign")
    message_broadcast = forms.ChoiceField(required=False, label="Broadcast")

    impact_mode = forms.ChoiceField(
        choices=IMPACT_MODES, initial="none", widget=forms.RadioSelect, label="Impact"
    )
    impact_currency = forms.ChoiceField(
        required=False,
        choices=[("", "Choose a currency"), *currencies.CURRENCY_CHOICES],
        label="Currency",
        help_text="One currency per goal (no conversion between currencies).",
    )
    impact_static = forms.CharField(
        required=False, max_length=40, label="Amount", help_text="Per achievement, e.g. 29.00."
    )
    impact_event_key = forms.CharField(
        required=False,
        max_length=rules.MAX_KEY_LENGTH,
        label="Event data key",
        help_text="The key (or dotted path) of the event's data holding the amount, e.g. "
        "<code>order.total</code>. Where it is missing or not a number the achievement still "
        "counts, with no revenue.",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        workspace: Workspace,
        goal: Goal | None = None,
        **kwargs: Any,
    ) -> None:
        self.workspace = workspace
        self.goal = goal
        conditions: list[dict[str, str]] = []
        filters: list[dict[str, str]] = []
        if goal is not None and data is None:
            initial, conditions, filters = self._initial_of(goal)
            kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(data, **kwargs)
        self.criteria: dict[str, Any] = {}
        self.impact: dict[str, Any] | None = None
        self.tag_names: list[str] = []

        # The goal's own references stay choosable after they were deleted.
        stored, _, stored_filters = criteria_initial(goal.criteria if goal else None)
        kept_segments = {stored.get("segment"), *(row["segment"] for row in stored_filters)}
        segments = _choices(_referenced(workspace, Segment, kept_segments), "Choose a segment")
        self._choice_field("segment").choices = segments
        self._choice_field("message_campaign").choices = _choices(
            _referenced(workspace, Campaign, {stored.get("message_campaign")}), "Any campaign"
        )
        self._choice_field("message_broadcast").choices = _choices(
            _referenced(workspace, Broadcast, {stored.get("message_broadcast")}), "Any broadcast"
        )
        # builder.js offers only the chosen channel's metrics (an SMS is never opened, SPEC §3),
        # as the attribution settings do; the rules still refuse a pair sent without it.
        self.fields["message_channel"].widget.attrs["data-channel-metrics"] = json.dumps(
            {channel: list(channels.channel_metrics(channel)) for channel in channels.CHANNELS}
        )
        self.conditions = ConditionFormSet(data, initial=conditions or None, prefix="conditions")
        self.filters = FilterFormSet(
            data,
            initial=filters or None,
            prefix="filters",
            form_kwargs={"segment_choices": segments},
        )
        # Each criteria row index -> the form it came from (blank rows are left out).
        self._condition_rows: list[ConditionForm] = []
        self._filter_rows: list[FilterForm] = []

    def _choice_field(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    @staticmethod
    def _initial_of(goal: Goal) -> Initial:
        fields, conditions, filters = criteria_initial(goal.criteria)
        fields.update(
            name=goal.name,
            description=goal.description,
            tags=", ".join(sorted(goal.tags.names(), key=str.casefold)),
        )
        if goal.impact_currency:
            fields["impact_currency"] = goal.impact_currency
            if goal.impact_static is not None:
                fields["impact_mode"] = "static"
                fields["impact_static"] = currencies.money_str(
                    goal.impact_static, goal.impact_currency
                )
            else:
                fields["impact_mode"] = "event_key"
                fields["impact_event_key"] = goal.impact_event_key
        return fields, conditions, filters

    # --- sections, for the template ------------------------------------------------------

    def _bound(self, *names: str) -> list[BoundField]:
        return [self[name] for name in names]

    @property
    def about_fields(self) -> list[BoundField]:
        return self._bound("name", "description", "tags")

    @property
    def attribute_fields(self) -> list[BoundField]:
        return self._bound("attribute_key", "attribute_op", "attribute_value")

    @property
    def message_fields(self) -> list[BoundField]:
        return self._bound(
            "message_metric", "message_channel", "message_campaign", "message_broadcast"
        )

    @property
    def has_errors(self) -> bool:
        """Any error anywhere: the form's or a row's (for the "please correct" note)."""
        return bool(
            self.errors
            or any(self.conditions.errors)
            or self.conditions.non_form_errors()
            or any(self.filters.errors)
            or self.filters.non_form_errors()
        )

    # --- validation ----------------------------------------------------------------------

    def is_valid(self) -> bool:
        valid = super().is_valid()  # runs clean(), which validates the rows too
        return valid and self.conditions.is_valid() and self.filters.is_valid()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.criteria = self._criteria(data)
        self.impact = self._impact(data)
        tag_text = data.get("tags") or ""
        errors: dict[str, list[str]] = {}
        try:
            self.tag_names = tags_clean(t for t in tag_text.split(",") if t.strip())
        except DomainError as exc:
            errors.update(exc.errors)
        # The rules every goal write obeys (no write here): every problem shows at once.
        try:
            rules.criteria_clean(
                self.criteria,
                workspace=self.workspace,
                previous=self.goal.criteria if self.goal is not None else None,
            )
        except DomainError as exc:
            errors.update(exc.errors)
        try:
            rules.impact_clean(self.impact, trigger_type=rules.trigger_type_of(self.criteria))
        except DomainError as exc:
            errors.update(exc.errors)
        self.add_domain_errors(errors)
        return data

    def _criteria(self, data: Mapping[str, Any]) -> dict[str, Any]:
        kind = data.get("trigger_type") or TriggerKind.EVENT
        trigger: dict[str, Any] = {"type": kind}
        # What the goal stores, for the rows saved as they were shown (``stored_values``).
        stored = self.goal.criteria if self.goal is not None else None
        stored = stored if isinstance(stored, Mapping) else {}
        stored_trigger = stored.get("trigger")
        if not isinstance(stored_trigger, Mapping) or stored_trigger.get("type") != kind:
            stored_trigger = {}
        if kind == "event":
            self.conditions.is_valid()
            rows = cast(list[ConditionForm], self.conditions.forms)
            self._condition_rows = [row for row in rows if row.is_valid() and not row.is_blank()]
            trigger["name"] = (data.get("event_name") or "").strip() or None
            kept = stored_values(stored_trigger.get("conditions") or [])
            trigger["conditions"] = [row.condition(kept) for row in self._condition_rows]
        elif kind == "attribute":
            op = data.get("attribute_op") or "eq"
            trigger.update(key=(data.get("attribute_key") or "").strip() or None, op=op)
            text = (data.get("attribute_value") or "").strip()
            if op not in VALUELESS_OPERATORS:
                stored_value = stored_values([stored_trigger] if stored_trigger else [])
                trigger.update(_row_value(stored_value, (trigger["key"] or "", op, text)))
        elif kind == "segment":
            if not data.get("segment"):
                self.add_error("segment", "Choose a segment.")
            trigger["segment"] = int(data["segment"]) if data.get("segment") else None
        elif kind == "message":
            trigger["metric"] = data.get("message_metric") or None
            for name in ("channel", "campaign", "broadcast"):
                value = data.get(f"message_{name}")
                if value:
                    trigger[name] = value if name == "channel" else int(value)

        self.filters.is_valid()
        filter_rows = cast(list[FilterForm], self.filters.forms)
        self._filter_rows = [row for row in filter_rows if row.is_valid() and not row.is_blank()]
        kept = stored_values(
            item
            for item in stored.get("filters") or []
            if isinstance(item, Mapping) and item.get("type") != "segment"
        )
        criteria = {
            "trigger": trigger,
            "filters": [row.filter(kept) for row in self._filter_rows],
        }
        if self.goal is not None and criteria_initial(criteria) == criteria_initial(
            self.goal.criteria
        ):
            # Unchanged as the user sees it: keep the stored JSON exactly (a number the API
            # stored as 29 is shown as "29" and would come back as text), so nothing recomputes.
            return dict(self.goal.criteria)
        return criteria

    def _impact(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        mode = data.get("impact_mode") or "none"
        if mode == "none":
            return None
        impact: dict[str, Any] = {"currency": data.get("impact_currency") or None}
        field = f"impact_{mode}"
        value = (data.get(field) or "").strip() or None
        if value is None:
            self.add_error(
                field,
                "Enter the amount one achievement is worth."
                if mode == "static"
                else "Enter the event data key that holds the amount.",
            )
        impact[mode] = value
        return impact

    # --- errors from the rules -----------------------------------------------------------

    def add_domain_errors(self, errors: Mapping[str, Iterable[str]]) -> None:
        """Put each ``{"dotted.path": [reasons]}`` beside the field or row it is about; what
        matches no field goes to the top of the form, with its path. A field that already
        shows an error (the form's own check) does not get the rules' version of it too."""
        for path, reasons in errors.items():
            for reason in reasons:
                self._place(path, str(reason))

    def _place(self, path: str, reason: str) -> None:
        field = FIELD_OF_PATH.get(path)
        if path == "criteria.trigger":
            field = TRIGGER_FIELD.get(self.cleaned_data.get("trigger_type") or "", None)
        elif path == "impact":
            mode = self.cleaned_data.get("impact_mode")
            field = {"static": "impact_static", "event_key": "impact_event_key"}.get(
                mode or "", "impact_mode"
            )
        if field is not None:
            if field not in self.errors:
                self.add_error(field, reason)
            return
        row = _ROW_PATH.match(path)
        if row is not None:
            is_condition, _, index, name = row.groups()
            rows = self._condition_rows if is_condition else self._filter_rows
            if int(index) < len(rows):
                form = rows[int(index)]
                target = {"in": "kind"}.get(name or "", name)
                if target in form.fields:
                    if target not in form.errors:
                        form.add_error(target, reason)
                else:
                    form.add_error(None, reason)
                return
        self.add_error(None, f"{path}: {reason}" if path != "non_field_errors" else reason)

    # --- saving --------------------------------------------------------------------------

    def save(self) -> Goal | None:
        """Create or update the goal through ``goals.services``; None (with the errors added
        to the form) when the services refuse it."""
        data = self.cleaned_data
        common = {
            "name": data["name"],
            "description": data.get("description") or "",
            "tags": self.tag_names,
            "criteria": self.criteria,
            "impact": self.impact,
        }
        try:
            if self.goal is None:
                return services.goal_create(workspace=self.workspace, **common)
            return services.goal_update(goal=self.goal, **common)
        except DomainError as exc:
            self.add_domain_errors(exc.errors)
        except ValidationError as exc:  # the model's own checks (lengths, money digits)
            self.add_domain_errors(exc.message_dict)
        return None
