/*
 * The goal builder (templates/goals/goal_form.html): shows the fields of the chosen trigger
 * and impact, hides a condition's value for "exists" / "does not exist", and adds / removes
 * condition and filter rows. Rows are Django formset forms ("conditions-0-key", ...): after a
 * change the remaining rows are renumbered and TOTAL_FORMS updated, so the server reads them
 * in the order shown, and their inputs' accessible names ("Filter 2 value") follow the new
 * numbers. Without this script every section shows and the form still submits.
 */
(function () {
  "use strict";

  const form = document.getElementById("goal-form");
  if (!form) {
    return;
  }
  const VALUELESS = ["exists", "not_exists"];

  /* Table cells keep their column (visibility), anything else leaves the layout. */
  function show(element, visible) {
    if (element.tagName === "TD") {
      element.classList.toggle("builder-off", !visible);
    } else {
      element.hidden = !visible;
    }
  }

  function checked(name, fallback) {
    const input = form.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : fallback;
  }

  /* A condition (a row, or the attribute trigger): no value box for exists / not_exists;
     a filter row: the attribute's fields or the segment select, by the filter's kind. */
  function syncCondition(scope) {
    const kind = scope.querySelector('select[name$="-kind"]');
    if (kind) {
      const part = kind.value === "attribute" ? "attribute" : "segment";
      scope.querySelectorAll("[data-filter-part]").forEach((element) => {
        show(element, element.dataset.filterPart === part);
      });
    }
    const op = scope.querySelector('select[name$="op"]');
    const value = scope.querySelector("[data-value]");
    if (op && value && !(kind && kind.value !== "attribute")) {
      show(value, !VALUELESS.includes(op.value));
    }
  }

  /* The message trigger's metric list offers only the chosen channel's metrics (an SMS has
     no "opened"), as the attribution settings do. A metric the newly chosen channel lacks is
     unselected; on load a stored or submitted choice stays shown, for its error to explain. */
  function syncMetrics(changed) {
    const channel = form.querySelector('select[name="message_channel"]');
    const metric = form.querySelector('select[name="message_metric"]');
    if (!channel || !metric || !channel.dataset.channelMetrics) {
      return;
    }
    const allowed = channel.value ? JSON.parse(channel.dataset.channelMetrics)[channel.value] : null;
    Array.from(metric.options).forEach((option) => {
      const offered =
        !option.value || !allowed || allowed.includes(option.value) ||
        (!changed && option.selected);
      option.hidden = !offered;
      option.disabled = !offered;
    });
    if (metric.selectedIndex >= 0 && metric.options[metric.selectedIndex].disabled) {
      metric.value = "";
    }
  }

  function syncSections() {
    const trigger = checked("trigger_type", "event");
    form.querySelectorAll("[data-trigger]").forEach((panel) => {
      panel.hidden = panel.dataset.trigger !== trigger;
    });
    const mode = checked("impact_mode", "none");
    form.querySelectorAll("[data-impact]").forEach((row) => {
      row.hidden = !row.dataset.impact.split(" ").includes(mode);
    });
    // Reading the amount from event data needs an event trigger: offer it only then (a goal
    // that already has it keeps the choice visible, and the server explains the problem).
    form.querySelectorAll("[data-event-only]").forEach((item) => {
      const input = item.querySelector("input");
      const allowed = trigger === "event";
      input.disabled = !allowed && !input.checked;
      item.classList.toggle("builder-unavailable", !allowed);
    });
    form.querySelectorAll("[data-condition]").forEach(syncCondition);
  }

  function setupRows(group) {
    const prefix = group.dataset.rows;
    const body = group.querySelector("[data-rows-body]");
    const template = group.querySelector("template[data-row-template]");
    const total = form.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
    const addButton = group.querySelector("[data-add-row]");
    const pattern = new RegExp(`^(id_)?${prefix}-(\\d+|__prefix__)-`);

    function renumber() {
      const rows = body.querySelectorAll("[data-row]");
      rows.forEach((row, index) => {
        row.querySelectorAll("[name], [id], label[for]").forEach((element) => {
          ["name", "id", "for"].forEach((attribute) => {
            const value = element.getAttribute(attribute);
            if (value && pattern.test(value)) {
              element.setAttribute(
                attribute,
                value.replace(pattern, (_, id) => `${id || ""}${prefix}-${index}-`),
              );
            }
          });
        });
        // Each input and Remove button is named by its row ("Condition 2 value"): the
        // column headings label nothing for a screen reader.
        row.querySelectorAll("[data-label]").forEach((element) => {
          element.setAttribute("aria-label", element.dataset.label.replace("{n}", String(index + 1)));
        });
      });
      total.value = String(rows.length);
      group.classList.toggle("builder-rows-empty", rows.length === 0);
    }

    addButton.hidden = false;
    addButton.addEventListener("click", () => {
      body.appendChild(template.content.cloneNode(true));
      renumber();
      const row = body.lastElementChild;
      syncCondition(row);
      const first = row.querySelector("input, select");
      if (first) {
        first.focus();
      }
    });
    body.addEventListener("click", (event) => {
      const button = event.target.closest("[data-remove-row]");
      if (button) {
        button.closest("[data-row]").remove();
        renumber();
        addButton.focus();
      }
    });
    renumber();
  }

  form.querySelectorAll("[data-rows]").forEach(setupRows);
  form.addEventListener("change", (event) => {
    const target = event.target;
    if (target.name === "trigger_type" || target.name === "impact_mode") {
      syncSections();
    } else if (target.name === "message_channel") {
      syncMetrics(true);
    } else if (target.closest("[data-condition]")) {
      syncCondition(target.closest("[data-condition]"));
    }
  });
  syncSections();
  syncMetrics(false);
})();
