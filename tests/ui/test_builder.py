"""The goal builder (create / edit a goal), over HTTP: what it stores, the errors it shows
beside the fields, and who may use it."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Broadcast, Campaign, Segment, Workspace
from goals import services
from goals.forms import GoalForm
from goals.models import Goal

CREATE = reverse("goals_ui:create")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: User) -> Client:
    return client_for(owner)


def rows(prefix: str, items: list[dict[str, str]], initial: int = 0) -> dict[str, str]:
    """A formset's POST data, as the page (and builder.js) sends it."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(items)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, item in enumerate(items):
        data.update({f"{prefix}-{index}-{name}": value for name, value in item.items()})
    return data


def form_data(
    *,
    conditions: list[dict[str, str]] = (),  # type: ignore[assignment]
    filters: list[dict[str, str]] = (),  # type: ignore[assignment]
    **fields: str,
) -> dict[str, str]:
    data = {
        "name": "Trial to paid",
        "description": "",
        "tags": "",
        "trigger_type": "event",
        "event_name": "plan_activated",
        "attribute_op": "eq",
        "impact_mode": "none",
        **rows("conditions", list(conditions)),
        **rows("filters", list(filters)),
    }
    data.update(fields)
    return data


def create(client: Client, **kwargs: Any) -> Any:
    return client.post(CREATE, form_data(**kwargs))


def created(response: Any) -> Goal:
    assert response.status_code == 302, errors_of(response)
    goal = Goal.objects.get()
    assert response["Location"] == reverse("goals_ui:detail", args=[goal.pk])
    return goal


def errors_of(response: Any) -> dict[str, Any]:
    """Every error the page shows: the form's, then each row's (``conditions.0.value``)."""
    if response.context is None or "form" not in response.context:
        return {"status": response.status_code}
    form = response.context["form"]
    found = {name: list(errors) for name, errors in form.errors.items()}
    for prefix, formset in (("conditions", form.conditions), ("filters", form.filters)):
        for index, row in enumerate(formset.forms):
            for name, errors in row.errors.items():
                found[f"{prefix}.{index}.{name}"] = list(errors)
    return found


def shown_beside(response: Any, field: str, message: str) -> bool:
    """The message is in the error list of the field's own row on the page."""
    html = response.content.decode()
    row = re.search(rf'<div class="form-row errors field-{field}"[^>]*>(.*?)</div>', html, re.S)
    return row is not None and message in row.group(1)


# --- access -----------------------------------------------------------------------------


def test_it_requires_login(client: Client, workspace: Workspace) -> None:
    response = client.get(CREATE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(CREATE, form_data()).status_code == 302
    assert not Goal.objects.exists()


def test_a_viewer_can_neither_open_nor_post_the_builder(viewer: User, workspace: Workspace) -> None:
    client = client_for(viewer)
    goal = services.goal_create(
        workspace=workspace, name="Mine", criteria={"trigger": {"type": "event", "name": "x"}}
    )
    edit = reverse("goals_ui:edit", args=[goal.pk])

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    assert client.get(edit).status_code == 403
    assert client.post(edit, form_data(name="Renamed")).status_code == 403
    assert Goal.objects.get().name == "Mine"


def test_a_viewer_who_follows_a_link_to_the_builder_is_told_why_and_led_back(
    viewer: User, workspace: Workspace
) -> None:
    """A colleague's "edit this goal" link must not end in a bare "403 Forbidden"."""
    client = client_for(viewer)
    goal = services.goal_create(
        workspace=workspace, name="Mine", criteria={"trigger": {"type": "event", "name": "x"}}
    )

    response = client.get(reverse("goals_ui:edit", args=[goal.pk]))

    assert response.status_code == 403
    page = response.content.decode()
    assert "Your role in this workspace cannot change goals." in page
    assert f'href="{reverse("goals_ui:dashboard")}"' in page


def test_another_workspaces_goal_is_not_found(
    owner_client: Client, other_workspace: Workspace
) -> None:
    theirs = services.goal_create(
        workspace=other_workspace,
        name="Theirs",
        criteria={"trigger": {"type": "event", "name": "x"}},
    )
    edit = reverse("goals_ui:edit", args=[theirs.pk])

    assert owner_client.get(edit).status_code == 404
    assert owner_client.post(edit, form_data(name="Mine now")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_a_link_to_a_deleted_goal_leads_back_to_the_goals(
    owner_client: Client, workspace: Workspace
) -> None:
    goal = services.goal_create(
        workspace=workspace, name="Gone", criteria={"trigger": {"type": "event", "name": "x"}}
    )
    url = reverse("goals_ui:detail", args=[goal.pk])
    goal.delete()

    response = owner_client.get(url)

    assert response.status_code == 404
    assert f'href="{reverse("goals_ui:dashboard")}"' in response.content.decode()


def test_an_editor_opens_an_empty_builder(editor: User, workspace: Workspace) -> None:
    response = client_for(editor).get(CREATE)

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("name", "trigger_type", "event_name", "impact_mode", "conditions-TOTAL_FORMS"):
        assert f'name="{name}"' in html
    assert "goals/builder.js" in html


# --- create, per trigger ----------------------------------------------------------------


def test_an_event_goal_with_conditions_and_filters(
    owner_client: Client, workspace: Workspace
) -> None:
    paying = Segment.objects.create(workspace=workspace, name="Paying")
    churned = Segment.objects.create(workspace=workspace, name="Churned")

    goal = created(
        create(
            owner_client,
            name="  Big orders ",
            description="Orders over 100",
            tags="revenue, Orders, revenue",
            event_name="order_completed",
            conditions=[
                {"key": "total", "op": "gte", "value": "100"},
                {"key": "", "op": "eq", "value": ""},  # a blank row is ignored
                {"key": "coupon", "op": "exists", "value": "ignored"},
                {"key": "gift", "op": "eq", "value": "TRUE"},
            ],
            filters=[
                {"kind": "attribute", "key": "country", "op": "eq", "value": "DE", "segment": ""},
                {"kind": "in_segment", "segment": str(paying.pk), "op": "eq"},
                {"kind": "not_in_segment", "segment": str(churned.pk), "op": "eq"},
            ],
        )
    )

    assert goal.name == "Big orders"
    assert goal.description == "Orders over 100"
    assert sorted(goal.tags.names()) == ["Orders", "revenue"]
    assert goal.criteria == {
        "trigger": {
            "type": "event",
            "name": "order_completed",
            "conditions": [
                {"key": "total", "op": "gte", "value": "100"},
                {"key": "coupon", "op": "exists"},
                {"key": "gift", "op": "eq", "value": True},
            ],
        },
        "filters": [
            {"type": "attribute", "key": "country", "op": "eq", "value": "DE"},
            {"type": "segment", "segment": paying.pk, "in": True},
            {"type": "segment", "segment": churned.pk, "in": False},
        ],
    }
    assert goal.impact_currency == ""


def test_an_attribute_goal(owner_client: Client, workspace: Workspace) -> None:
    response = create(
        owner_client,
        trigger_type="attribute",
        attribute_key="plan.tier",
        attribute_op="eq",
        attribute_value="pro",
        event_name="left over from the event panel",
    )
    goal = created(response)
    page = owner_client.get(response["Location"]).content.decode()
    assert f"Goal “{goal.name}” created. Its achievements are being computed." in page

    assert goal.criteria == {
        "trigger": {"type": "attribute", "key": "plan.tier", "op": "eq", "value": "pro"},
        "filters": [],
    }


def test_an_attribute_goal_with_a_valueless_operator(
    owner_client: Client, workspace: Workspace
) -> None:
    goal = created(
        create(
            owner_client,
            trigger_type="attribute",
            attribute_key="trial_ends",
            attribute_op="not_exists",
            attribute_value="",
        )
    )
    assert goal.criteria["trigger"] == {
        "type": "attribute",
        "key": "trial_ends",
        "op": "not_exists",
    }


def test_a_segment_goal_picks_from_the_workspaces_live_segments(
    owner_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    paying = Segment.objects.create(workspace=workspace, name="Paying customers")
    Segment.objects.create(workspace=workspace, name="Old segment", deleted_at=timezone.now())
    theirs = Segment.objects.create(workspace=other_workspace, name="Their segment")

    html = owner_client.get(CREATE).content.decode()
    assert "Paying customers" in html
    assert "Old segment" not in html
    assert "Their segment" not in html

    refused = create(owner_client, trigger_type="segment", segment=str(theirs.pk))
    assert refused.status_code == 200
    assert "segment" in errors_of(refused)

    goal = created(create(owner_client, trigger_type="segment", segment=str(paying.pk)))
    assert goal.criteria == {"trigger": {"type": "segment", "segment": paying.pk}, "filters": []}


def test_a_segment_goal_needs_a_segment(owner_client: Client, workspace: Workspace) -> None:
    response = create(owner_client, trigger_type="segment", segment="")

    assert errors_of(response) == {"segment": ["Choose a segment."]}
    assert shown_beside(response, "segment", "Choose a segment.")


def test_a_message_goal(owner_client: Client, workspace: Workspace) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")

    goal = created(
        create(
            owner_client,
            trigger_type="message",
            message_metric="clicked",
            message_channel="email",
            message_campaign=str(campaign.pk),
            message_broadcast="",
        )
    )

    assert goal.criteria == {
        "trigger": {
            "type": "message",
            "metric": "clicked",
            "channel": "email",
            "campaign": campaign.pk,
        },
        "filters": [],
    }


def test_a_message_goal_with_only_a_metric(owner_client: Client, workspace: Workspace) -> None:
    goal = created(create(owner_client, trigger_type="message", message_metric="opened"))
    assert goal.criteria["trigger"] == {"type": "message", "metric": "opened"}


def test_a_message_goal_refuses_a_campaign_and_a_broadcast(
    owner_client: Client, workspace: Workspace
) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    broadcast = Broadcast.objects.create(workspace=workspace, name="March newsletter")

    response = create(
        owner_client,
        trigger_type="message",
        message_metric="sent",
        message_campaign=str(campaign.pk),
        message_broadcast=str(broadcast.pk),
    )

    assert errors_of(response) == {
        "message_broadcast": ["give campaign or broadcast, not both: a message has one source"]
    }


def test_a_message_metric_the_channel_lacks_is_shown_beside_the_metric(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(
        owner_client, trigger_type="message", message_metric="opened", message_channel="sms"
    )

    assert list(errors_of(response)) == ["message_metric"]
    assert "the sms channel has no 'opened' metric" in errors_of(response)["message_metric"][0]


# --- impact -----------------------------------------------------------------------------


def test_a_static_impact(owner_client: Client, workspace: Workspace) -> None:
    goal = created(
        create(owner_client, impact_mode="static", impact_currency="EUR", impact_static="29.9")
    )
    assert (goal.impact_currency, goal.impact_static, goal.impact_event_key) == (
        "EUR",
        Decimal("29.90"),
        "",
    )


def test_an_impact_read_from_the_event(owner_client: Client, workspace: Workspace) -> None:
    goal = created(
        create(
            owner_client,
            impact_mode="event_key",
            impact_currency="JPY",
            impact_event_key="order.total",
            impact_static="ignored",
        )
    )
    assert (goal.impact_currency, goal.impact_static, goal.impact_event_key) == (
        "JPY",
        None,
        "order.total",
    )


def test_no_impact_ignores_the_impact_fields(owner_client: Client, workspace: Workspace) -> None:
    goal = created(
        create(owner_client, impact_mode="none", impact_currency="EUR", impact_static="5")
    )
    assert (goal.impact_currency, goal.impact_static) == ("", None)


# --- errors beside their fields ---------------------------------------------------------


def test_a_missing_event_name_is_shown_beside_it(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(owner_client, event_name="  ")

    assert response.status_code == 200
    assert errors_of(response) == {"event_name": ["This field is required."]}
    assert shown_beside(response, "event_name", "This field is required.")
    assert "Please correct the errors below." in response.content.decode()
    assert not Goal.objects.exists()


def test_a_missing_name_and_other_errors_show_together(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(owner_client, name="", event_name="", impact_mode="static")

    assert errors_of(response) == {
        "name": ["This field is required."],
        "event_name": ["This field is required."],
        "impact_currency": ["This field is required."],
        "impact_static": ["Enter the amount one achievement is worth."],
    }


def test_an_unknown_currency_is_shown_beside_the_currency(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(owner_client, impact_mode="static", impact_currency="XXX", impact_static="1")

    assert list(errors_of(response)) == ["impact_currency"]
    assert shown_beside(response, "impact_currency", "Select a valid choice.")


def test_an_amount_with_too_many_decimals_is_shown_beside_the_amount(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(
        owner_client, impact_mode="static", impact_currency="EUR", impact_static="12.345"
    )

    assert errors_of(response) == {"impact_static": ["EUR amounts have at most 2 decimals"]}
    assert shown_beside(response, "impact_static", "EUR amounts have at most 2 decimals")


def test_an_event_key_needs_an_event_trigger(owner_client: Client, workspace: Workspace) -> None:
    response = create(
        owner_client,
        trigger_type="attribute",
        attribute_key="plan",
        attribute_value="pro",
        impact_mode="event_key",
        impact_currency="EUR",
        impact_event_key="price",
    )

    assert errors_of(response) == {
        "impact_event_key": ["event_key is only available for event triggers"]
    }
    assert shown_beside(
        response, "impact_event_key", "event_key is only available for event triggers"
    )


def test_a_bad_condition_row_shows_the_error_in_that_row(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(
        owner_client,
        conditions=[
            {"key": "", "op": "eq", "value": ""},  # blank: left out of the criteria
            {"key": "plan", "op": "eq", "value": ""},
            {"key": "a..b", "op": "exists", "value": ""},
        ],
    )

    assert errors_of(response) == {
        "conditions.1.value": ["required for the eq operator"],
        "conditions.2.key": ["must be a key or a dotted path like plan.tier (no empty parts)"],
    }
    html = response.content.decode()
    assert re.search(
        r'name="conditions-1-key" value="plan".*?required for the eq operator'
        r'.*?name="conditions-1-value"',
        html,
        re.S,
    )


def test_a_bad_filter_row_shows_the_error_in_that_row(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(
        owner_client,
        filters=[
            {"kind": "attribute", "key": "", "op": "eq", "value": "", "segment": ""},
            {"kind": "attribute", "key": "country", "op": "gt", "value": "", "segment": ""},
            {"kind": "in_segment", "key": "", "op": "eq", "value": "", "segment": ""},
        ],
    )

    assert errors_of(response) == {
        "filters.1.value": ["required for the gt operator"],
        "filters.2.segment": ["Choose a segment."],
    }


def test_too_long_a_tag_is_shown_beside_the_tags(
    owner_client: Client, workspace: Workspace
) -> None:
    response = create(owner_client, tags="ok, " + "x" * 101)
    assert errors_of(response) == {"tags": ["tags are at most 100 characters long"]}


def test_errors_that_match_no_field_go_to_the_top(workspace: Workspace) -> None:
    form = GoalForm(form_data(), workspace=workspace)
    assert form.is_valid()

    form.add_domain_errors(
        {
            "sources.0.id": ["no campaign with id 9 in this workspace"],
            "criteria.trigger.name": ["must be a non-empty event name"],
        }
    )

    assert form.non_field_errors() == ["sources.0.id: no campaign with id 9 in this workspace"]
    assert form.errors["event_name"] == ["must be a non-empty event name"]


def test_a_refusal_at_save_time_is_shown_beside_the_field(workspace: Workspace) -> None:
    """The services check again when writing (a segment may be deleted in between)."""
    segment = Segment.objects.create(workspace=workspace, name="Paying")
    form = GoalForm(form_data(trigger_type="segment", segment=str(segment.pk)), workspace=workspace)
    assert form.is_valid()
    Segment.objects.filter(pk=segment.pk).update(deleted_at=timezone.now())

    assert form.save() is None

    assert form.errors == {"segment": [f"segment {segment.pk} is deleted"]}
    assert not Goal.objects.exists()


# --- edit -------------------------------------------------------------------------------


@pytest.fixture
def existing(workspace: Workspace) -> Goal:
    paying = Segment.objects.create(workspace=workspace, name="Paying")
    return services.goal_create(
        workspace=workspace,
        name="Big orders",
        description="Orders over 100",
        tags=["revenue", "Orders"],
        criteria={
            "trigger": {
                "type": "event",
                "name": "order_completed",
                "conditions": [
                    {"key": "total", "op": "gte", "value": 100},
                    {"key": "gift", "op": "eq", "value": True},
                ],
            },
            "filters": [
                {"type": "attribute", "key": "country", "op": "eq", "value": "DE"},
                {"type": "segment", "segment": paying.pk, "in": False},
            ],
        },
        impact={"currency": "EUR", "static": "29.90"},
    )


def test_edit_prefills_everything(owner_client: Client, existing: Goal) -> None:
    response = owner_client.get(reverse("goals_ui:edit", args=[existing.pk]))

    assert response.status_code == 200
    form = response.context["form"]
    values = {name: form[name].value() for name in form.fields}
    assert values["name"] == "Big orders"
    assert values["description"] == "Orders over 100"
    assert values["tags"] == "Orders, revenue"
    assert values["trigger_type"] == "event"
    assert values["event_name"] == "order_completed"
    assert values["impact_mode"] == "static"
    assert values["impact_currency"] == "EUR"
    assert values["impact_static"] == "29.90"
    assert [row.initial for row in form.conditions.forms] == [
        {"key": "total", "op": "gte", "value": "100"},
        {"key": "gift", "op": "eq", "value": "true"},
    ]
    segment = Segment.objects.get(name="Paying")
    assert [row.initial for row in form.filters.forms] == [
        {"kind": "attribute", "segment": "", "key": "country", "op": "eq", "value": "DE"},
        {"kind": "not_in_segment", "segment": str(segment.pk), "key": "", "op": "eq", "value": ""},
    ]
    html = response.content.decode()
    assert 'name="conditions-1-value" value="true"' in html
    assert f'<option value="{segment.pk}" selected>Paying</option>' in html


class _Attributes(HTMLParser):
    """Every start tag's attributes, in document order, outside <template> (builder.js's
    pattern rows) unless ``templates``."""

    def __init__(self, *, templates: bool) -> None:
        super().__init__()
        self.templates, self.depth = templates, 0
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "template":
            self.depth += 1
        elif self.templates == (self.depth > 0):
            self.found.append({"tag": tag, **dict(attrs)})

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.depth -= 1


def elements(html: str, *, templates: bool = False) -> list[dict[str, str | None]]:
    parser = _Attributes(templates=templates)
    parser.feed(html)
    return parser.found


def test_every_row_input_and_remove_button_is_named_by_its_row(
    owner_client: Client, existing: Goal
) -> None:
    html = owner_client.get(reverse("goals_ui:edit", args=[existing.pk])).content.decode()
    found = elements(html)
    names = {e["name"]: e.get("aria-label") for e in found if e.get("name")}
    assert names["conditions-0-key"] == "Condition 1 key"
    assert names["conditions-0-op"] == "Condition 1 operator"
    assert names["conditions-1-value"] == "Condition 2 value"
    assert names["filters-0-kind"] == "Filter 1 type"
    assert names["filters-0-key"] == "Filter 1 attribute"
    assert names["filters-0-op"] == "Filter 1 operator"
    assert names["filters-0-value"] == "Filter 1 value"
    assert names["filters-1-segment"] == "Filter 2 segment"
    removes = [e.get("aria-label") for e in found if "data-remove-row" in e]
    assert removes == [
        "Remove condition 1",
        "Remove condition 2",
        "Remove filter 1",
        "Remove filter 2",
    ]
    # The rows builder.js adds carry the pattern it numbers them with.
    patterns = [e.get("data-label") for e in elements(html, templates=True) if "data-label" in e]
    assert patterns == [
        "Condition {n} key",
        "Condition {n} operator",
        "Condition {n} value",
        "Remove condition {n}",
        "Filter {n} type",
        "Filter {n} attribute",
        "Filter {n} segment",
        "Filter {n} operator",
        "Filter {n} value",
        "Remove filter {n}",
    ]


def test_the_radio_groups_are_named_by_their_labels(owner_client: Client) -> None:
    html = owner_client.get(CREATE).content.decode()
    found = elements(html)
    by_id = {e["id"]: e for e in found if e.get("id")}
    for group, label in (
        ("id_trigger_type", "A person achieves the goal when:"),
        ("id_impact_mode", "Impact:"),
    ):
        assert by_id[group]["role"] == "radiogroup"
        label_id = by_id[group]["aria-labelledby"]
        assert re.search(rf'<label id="{label_id}">{label}</label>', html)


def edit_data(goal: Goal, client: Client, **changes: str) -> dict[str, str]:
    """What the edit page posts back when the user changes ``changes`` only."""
    form = client.get(reverse("goals_ui:edit", args=[goal.pk])).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    for formset in (form.conditions, form.filters):
        data.update(rows(formset.prefix, [dict(row.initial) for row in formset.forms]))
    data.update(changes)
    return {name: str(value) for name, value in data.items()}


def test_saving_an_edit_updates_the_goal_and_leads_to_its_page(
    owner_client: Client, existing: Goal
) -> None:
    url = reverse("goals_ui:edit", args=[existing.pk])
    data = edit_data(
        existing,
        owner_client,
        name="Bigger orders",
        tags="revenue",
        **{"conditions-0-value": "200", "conditions-TOTAL_FORMS": "1"},
        impact_mode="event_key",
        impact_event_key="total",
    )

    response = owner_client.post(url, data)

    assert response.status_code == 302, errors_of(response)
    assert response["Location"] == reverse("goals_ui:detail", args=[existing.pk])
    page = owner_client.get(response["Location"]).content.decode()
    assert "Goal saved. It is being recomputed with the changes." in page
    existing.refresh_from_db()
    assert existing.name == "Bigger orders"
    assert list(existing.tags.names()) == ["revenue"]
    assert existing.criteria["trigger"]["conditions"] == [
        {"key": "total", "op": "gte", "value": "200"}
    ]
    assert len(existing.criteria["filters"]) == 2
    assert (existing.impact_currency, existing.impact_static, existing.impact_event_key) == (
        "EUR",
        None,
        "total",
    )


def test_saving_an_unchanged_goal_keeps_its_criteria_and_recomputes_nothing(
    owner_client: Client, existing: Goal
) -> None:
    existing.refresh_from_db()
    before = (existing.criteria, existing.requested_version)

    response = owner_client.post(
        reverse("goals_ui:edit", args=[existing.pk]),
        edit_data(existing, owner_client, description="Renamed only"),
    )

    assert response.status_code == 302, errors_of(response)
    page = owner_client.get(response["Location"]).content.decode()
    assert "Goal saved." in page and "recomputed" not in page
    existing.refresh_from_db()
    assert existing.description == "Renamed only"
    # The stored number 100 is shown as "100" and was not sent back as text.
    assert (existing.criteria, existing.requested_version) == before


def test_removing_the_impact(owner_client: Client, existing: Goal) -> None:
    response = owner_client.post(
        reverse("goals_ui:edit", args=[existing.pk]),
        edit_data(existing, owner_client, impact_mode="none"),
    )

    assert response.status_code == 302, errors_of(response)
    existing.refresh_from_db()
    assert (existing.impact_currency, existing.impact_static) == ("", None)


def test_a_deleted_segment_the_goal_uses_stays_selectable(
    owner_client: Client, existing: Goal
) -> None:
    segment = Segment.objects.get(name="Paying")
    Segment.objects.filter(pk=segment.pk).update(deleted_at=timezone.now())

    response = owner_client.post(
        reverse("goals_ui:edit", args=[existing.pk]),
        edit_data(existing, owner_client, name="Still fine"),
    )

    assert response.status_code == 302, errors_of(response)
    existing.refresh_from_db()
    assert existing.criteria["filters"][1] == {
        "type": "segment",
        "segment": segment.pk,
        "in": False,
    }


def test_edit_errors_show_beside_the_field(owner_client: Client, existing: Goal) -> None:
    response = owner_client.post(
        reverse("goals_ui:edit", args=[existing.pk]),
        edit_data(existing, owner_client, impact_static="1.999"),
    )

    assert errors_of(response) == {"impact_static": ["EUR amounts have at most 2 decimals"]}
    existing.refresh_from_db()
    assert existing.impact_static == Decimal("29.90")


def test_a_deleted_segment_the_goal_uses_is_marked_deleted(
    owner_client: Client, existing: Goal
) -> None:
    """As its deleted campaigns and broadcasts are: the choice must not read as a live
    segment (the goal page's summary already says "(deleted)")."""
    segment = Segment.objects.get(name="Paying")
    Segment.objects.filter(pk=segment.pk).update(deleted_at=timezone.now())

    page = owner_client.get(reverse("goals_ui:edit", args=[existing.pk])).content.decode()

    options = re.findall(rf'<option value="{segment.pk}"[^>]*>([^<]*)</option>', page)
    assert "Paying (deleted)" in options and "Paying" not in options


@pytest.mark.parametrize(
    ("kept", "kept_filter"), [("true", "false"), ("", "")], ids=["text-true", "empty-text"]
)
def test_an_edit_keeps_the_stored_values_of_the_rows_it_did_not_change(
    owner_client: Client, workspace: Workspace, kept: str, kept_filter: str
) -> None:
    """A goal made through the API may compare with the text "true" (not the yes-or-no value
    true), or with the empty text (``coupon eq ""``: events sent with an empty coupon). The
    builder shows "true" and true alike, and the empty text as an empty box; saving a change to
    another row must neither turn the untouched ones into something else, which would silently
    change what the goal counts, nor refuse them as "required for the eq operator"."""
    goal = services.goal_create(
        workspace=workspace,
        name="Beta signups",
        criteria={
            "trigger": {
                "type": "event",
                "name": "signup",
                "conditions": [
                    {"key": "beta", "op": "eq", "value": kept},
                    {"key": "plan", "op": "eq", "value": "pro"},
                ],
            },
            "filters": [{"type": "attribute", "key": "vip", "op": "neq", "value": kept_filter}],
        },
    )

    response = owner_client.post(
        reverse("goals_ui:edit", args=[goal.pk]),
        edit_data(goal, owner_client, **{"conditions-1-value": "team"}),
    )

    assert response.status_code == 302, errors_of(response)
    goal.refresh_from_db()
    assert goal.criteria == {
        "trigger": {
            "type": "event",
            "name": "signup",
            "conditions": [
                {"key": "beta", "op": "eq", "value": kept},
                {"key": "plan", "op": "eq", "value": "team"},
            ],
        },
        "filters": [{"type": "attribute", "key": "vip", "op": "neq", "value": kept_filter}],
    }


@pytest.mark.parametrize("kept", ["TRUE", ""], ids=["text-TRUE", "empty-text"])
def test_an_edit_keeps_the_stored_value_of_an_unchanged_attribute_trigger(
    owner_client: Client, workspace: Workspace, kept: str
) -> None:
    trigger = {"type": "attribute", "key": "optin", "op": "eq", "value": kept}
    goal = services.goal_create(workspace=workspace, name="Opted in", criteria={"trigger": trigger})
    data = edit_data(goal, owner_client)
    data.update(
        rows("filters", [{"kind": "attribute", "key": "country", "op": "eq", "value": "DE"}])
    )

    response = owner_client.post(reverse("goals_ui:edit", args=[goal.pk]), data)

    assert response.status_code == 302, errors_of(response)
    goal.refresh_from_db()
    assert goal.criteria == {
        "trigger": trigger,
        "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
    }
