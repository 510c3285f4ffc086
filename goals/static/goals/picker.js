/* The source picker and "Edit sources": live selection counters.

   The pages work without this script: the selection is posted with every paging and filter
   button and carried in the URL. This only keeps "N selected" and the submit buttons' labels
   current while boxes are ticked, offers "select all on this page", marks ticked rows, and
   writes the selection into the address bar so a reload keeps it. */
(function () {
  "use strict";

  function init(form) {
    var name = form.getAttribute("data-selection");
    var boxes = Array.prototype.slice.call(
      form.querySelectorAll('input[type="checkbox"][name="' + name + '"]')
    );
    var toggle = form.querySelector("#action-toggle");

    function hiddenValues() {
      return Array.prototype.map.call(
        form.querySelectorAll('input[type="hidden"][name="' + name + '"]'),
        function (input) { return input.value; }
      );
    }

    function selectedValues() {
      var values = hiddenValues();
      boxes.forEach(function (box) {
        if (box.checked && !box.disabled && values.indexOf(box.value) === -1) {
          values.push(box.value);
        }
      });
      return values;
    }

    function refresh() {
      var values = selectedValues();
      var count = values.length;
      form.querySelectorAll("[data-selection-count]").forEach(function (node) {
        node.textContent = count + " selected";
      });
      form.querySelectorAll("[data-selection-submit]").forEach(function (button) {
        var label = count === 0 ? button.getAttribute("data-none")
          : count === 1 ? button.getAttribute("data-one")
          : button.getAttribute("data-many").replace("{n}", String(count));
        button.textContent = label;
        button.disabled = count === 0;
      });
      boxes.forEach(function (box) {
        var row = box.closest("tr");
        if (row) { row.classList.toggle("selected", box.checked); }
      });
      if (toggle) {
        var enabled = boxes.filter(function (box) { return !box.disabled; });
        toggle.checked = enabled.length > 0 && enabled.every(function (box) { return box.checked; });
      }
      if (window.history && window.history.replaceState && window.URLSearchParams) {
        var params = new URLSearchParams(window.location.search);
        params.delete(name);
        values.forEach(function (value) { params.append(name, value); });
        var query = params.toString();
        window.history.replaceState(
          window.history.state, "", window.location.pathname + (query ? "?" + query : "")
        );
      }
    }

    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    if (toggle) {
      toggle.addEventListener("change", function () {
        boxes.forEach(function (box) { if (!box.disabled) { box.checked = toggle.checked; } });
        refresh();
      });
    }
    refresh();
  }

  function start() {
    document.querySelectorAll("form[data-selection]").forEach(init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
