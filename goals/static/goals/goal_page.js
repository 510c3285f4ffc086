/* The goal page: draws the Progress chart (Chart.js 4, vendored) from the chart views' JSON,
 * keeps the view in the URL (history.replaceState) so a copied link reproduces it, formats
 * money with the goal's currency, and reloads the page when a recompute finishes.
 *
 * The legend is an HTML list under the canvas (#chart-legend), one button per series that
 * hides or shows it: Chart.js's own legend gets at most half the canvas, which left most of a
 * goal's sources unnamed once there were a few dozen. The axes' colours follow the admin's
 * theme, re-read whenever the header's toggle (or the system, in "auto") changes it.
 *
 * The drawn chart is readable from outside: Chart.getChart(canvas) while a chart is drawn, and
 * window.goalChart ({query, view, measure, chart, period, unattributed, empty, data, meta})
 * after every draw, empty ones included.
 */
(function () {
  "use strict";

  var stateNode = document.getElementById("goal-page-state");
  if (!stateNode) {
    return;
  }
  var state = JSON.parse(stateNode.textContent);
  var initialChart = state.initialChart;
  delete state.initialChart;
  var canvas = document.getElementById("progress-chart");
  var canvasBox = document.getElementById("chart-canvas");
  var emptyNode = document.getElementById("chart-empty");
  var loadingNode = document.getElementById("chart-loading");
  var legendNode = document.getElementById("chart-legend");
  var toolbar = document.getElementById("chart-toolbar");
  var unattributedBox = document.getElementById("show-unattributed");
  var VIEW_KEYS = ["period", "view", "measure", "chart", "unattributed"];
  var URL_KEYS = ["start", "end"].concat(VIEW_KEYS);

  // --- formatting -----------------------------------------------------------------------------

  function currencyFormat(options) {
    if (!state.currency) {
      return null;
    }
    try {
      return new Intl.NumberFormat(undefined, Object.assign({ style: "currency", currency: state.currency }, options));
    } catch (error) {
      return null; // an ISO code the browser does not know: fall back to "1,234.50 XYZ"
    }
  }
  var moneyShort = currencyFormat({});
  var moneyExact = currencyFormat({ maximumFractionDigits: 6 });
  var integer = new Intl.NumberFormat();
  // Labels are the workspace's local dates (YYYY-MM-DD): read and printed in UTC, so the
  // browser's own time zone never moves them to another day.
  var shortDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
  var longDay = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
  });

  function day(iso) {
    return new Date(iso + "T00:00:00Z");
  }

  function money(value, exact) {
    var format = exact ? moneyExact : moneyShort;
    if (format) {
      return format.format(value);
    }
    return integer.format(value) + (state.currency ? " " + state.currency : "");
  }

  // --- the view in the URL ----------------------------------------------------------------------

  function setParams(url, keys) {
    keys.forEach(function (key) {
      url.searchParams.set(key, state[key]);
    });
    return url;
  }

  /* The address bar names the goal's workspace from the start, so a copied link opens in it
     for any member, whichever workspace their session is in (a link may name its workspace:
     ?workspace=). The view options join it only once they are changed. */
  function nameWorkspace() {
    var url = new URL(window.location.href);
    if (state.workspace && url.searchParams.get("workspace") !== state.workspace) {
      url.searchParams.set("workspace", state.workspace);
      window.history.replaceState(null, "", url);
    }
  }

  function syncLinks() {
    var url = setParams(new URL(window.location.href), URL_KEYS);
    window.history.replaceState(null, "", url);
    // Presets keep the view options; the range form submits them; exports follow the period.
    document.querySelectorAll("a.range-preset").forEach(function (link) {
      link.href = setParams(new URL(link.href), VIEW_KEYS).toString();
    });
    document.querySelectorAll("#range-form input[type=hidden]").forEach(function (input) {
      if (Object.prototype.hasOwnProperty.call(state, input.name)) {
        input.value = state[input.name];
      }
    });
    ["export-csv", "export-json"].forEach(function (id) {
      var link = document.getElementById(id);
      if (link) {
        link.href = setParams(new URL(link.href), ["period"]).toString();
      }
    });
  }

  function syncToolbar() {
    toolbar.querySelectorAll("button[data-option]").forEach(function (button) {
      var pressed = state[button.dataset.option] === button.dataset.value;
      button.setAttribute("aria-pressed", pressed ? "true" : "false");
    });
    toolbar.querySelectorAll("[data-show-for]").forEach(function (node) {
      node.hidden = node.dataset.showFor !== state.view;
    });
    if (unattributedBox) {
      unattributedBox.checked = state.unattributed === "1";
    }
  }

  function changed() {
    syncToolbar();
    syncLinks();
    draw();
  }

  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-option]");
    if (!button || state[button.dataset.option] === button.dataset.value) {
      return;
    }
    state[button.dataset.option] = button.dataset.value;
    changed();
  });
  if (unattributedBox) {
    unattributedBox.addEventListener("change", function () {
      state.unattributed = unattributedBox.checked ? "1" : "0";
      changed();
    });
  }

  // --- the chart --------------------------------------------------------------------------------

  function chartQuery() {
    var params = new URLSearchParams();
    // The page's workspace, not the session's: another tab may have switched it since.
    var keys = [
      "workspace", "start", "end", "period", state.view === "sources" ? "unattributed" : "measure",
    ];
    keys.forEach(function (key) {
      params.set(key, state[key]);
    });
    return params.toString();
  }

  /* The admin's colours for text and grid lines (its CSS variables), as Chart.js defaults
     for the charts drawn from now on. */
  function themeColors() {
    var style = window.getComputedStyle(document.documentElement);
    var text = style.getPropertyValue("--body-quiet-color").trim();
    var grid = style.getPropertyValue("--hairline-color").trim();
    if (text) {
      Chart.defaults.color = text;
    }
    if (grid) {
      Chart.defaults.borderColor = grid;
    }
  }

  /* The admin's theme toggle sets <html data-theme="light|dark|auto">; in "auto" the system's
     setting decides. Either change re-colours the chart without a reload. A drawn chart's
     scales copied the defaults' colours when it was made, so they are set on it too. */
  function followTheme() {
    function recolor() {
      themeColors();
      var chart = Chart.getChart(canvas);
      if (!chart) {
        return;
      }
      Object.keys(chart.options.scales).forEach(function (id) {
        var scale = chart.options.scales[id];
        scale.ticks.color = Chart.defaults.color;
        scale.title.color = Chart.defaults.color;
        scale.grid.color = Chart.defaults.borderColor;
        scale.border.color = Chart.defaults.borderColor;
      });
      chart.update("none");
    }
    new MutationObserver(recolor).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["data-theme"],
    });
    if (window.matchMedia) {
      var dark = window.matchMedia("(prefers-color-scheme: dark)");
      if (dark.addEventListener) {
        dark.addEventListener("change", recolor);
      }
    }
  }

  function decorate(dataset) {
    var line = state.chart === "line" || dataset.kind === "revenue";
    var extra = { fill: false, tension: 0, pointRadius: 2, pointHoverRadius: 5 };
    if (dataset.kind === "revenue") {
      // Revenue is drawn as a line on its own axis, over people bars or lines.
      extra.type = "line";
      extra.borderDash = state.chart === "line" ? [6, 4] : [];
      extra.backgroundColor = dataset.borderColor;
    }
    if (!line) {
      extra = { borderWidth: 0, borderRadius: 2 };
    }
    return Object.assign({}, dataset, extra);
  }

  function tooltipLabel(context) {
    var dataset = context.dataset;
    var value = context.parsed.y;
    if (dataset.kind === "revenue") {
      return " " + dataset.label + ": " + money(value, true);
    }
    var text = " " + dataset.label + ": " + integer.format(value) + (value === 1 ? " person" : " people");
    if (dataset.revenue) {
      text += " · " + money(dataset.revenue[context.dataIndex], true);
    }
    return text;
  }

  function config(payload) {
    var meta = payload.meta;
    var datasets = payload.datasets.map(decorate);
    var stacked = state.view === "sources" && state.chart === "bar";
    var scales = {
      x: {
        stacked: stacked,
        title: { display: true, text: meta.x_title },
        ticks: {
          maxRotation: 0,
          autoSkip: true,
          callback: function (value) {
            return shortDay.format(day(this.getLabelForValue(value)));
          },
        },
      },
      people: {
        type: "linear",
        position: "left",
        beginAtZero: true,
        stacked: stacked,
        title: { display: true, text: meta.y_title },
        ticks: { precision: 0 },
      },
    };
    if (datasets.some(function (d) { return d.kind === "revenue"; })) {
      scales.revenue = {
        type: "linear",
        position: "right",
        beginAtZero: true,
        title: { display: true, text: meta.revenue_title },
        grid: { drawOnChartArea: false },
        ticks: { callback: function (value) { return money(value, false); } },
      };
    }
    return {
      type: state.chart,
      data: { labels: payload.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: { duration: 250 },
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          legend: { display: false }, // drawn as HTML: see drawLegend
          tooltip: {
            // By source, list only the series with someone in the period: a long list of
            // zeros hides the sources that matter.
            filter: function (item) {
              return state.view !== "sources" || item.parsed.y !== 0;
            },
            callbacks: {
              title: function (items) {
                var text = items.length ? longDay.format(day(items[0].label)) : "";
                return meta.period === "week" ? "Week of " + text : text;
              },
              label: tooltipLabel,
            },
          },
        },
      },
    };
  }

  /* One button per series, in the chart's order, coloured like it; pressing one hides or
     shows its series (aria-pressed says which), as Chart.js's legend would. */
  function drawLegend(chart) {
    legendNode.textContent = "";
    chart.data.datasets.forEach(function (dataset, index) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      var swatch = document.createElement("span");
      button.type = "button";
      button.dataset.index = String(index);
      button.setAttribute("aria-pressed", chart.isDatasetVisible(index) ? "true" : "false");
      swatch.className = "chart-legend-swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.backgroundColor = dataset.backgroundColor || dataset.borderColor;
      swatch.style.borderColor = dataset.borderColor || dataset.backgroundColor;
      if (dataset.borderDash && dataset.borderDash.length) {
        swatch.style.borderStyle = "dashed";
      }
      button.appendChild(swatch);
      button.appendChild(document.createTextNode(dataset.label));
      item.appendChild(button);
      legendNode.appendChild(item);
    });
    legendNode.hidden = false;
  }

  legendNode.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-index]");
    var chart = Chart.getChart(canvas);
    if (!button || !chart) {
      return;
    }
    var index = Number(button.dataset.index);
    var visible = !chart.isDatasetVisible(index);
    chart.setDatasetVisibility(index, visible);
    chart.update();
    button.setAttribute("aria-pressed", visible ? "true" : "false");
  });

  var drawing = 0;

  function showMessage(text) {
    var previous = Chart.getChart(canvas);
    if (previous) {
      previous.destroy();
    }
    canvasBox.hidden = true;
    legendNode.hidden = true;
    legendNode.textContent = "";
    emptyNode.textContent = text;
    emptyNode.hidden = false;
  }

  function render(payload, query) {
    loadingNode.hidden = true;
    window.goalChart = {
      query: query,
      view: state.view,
      measure: state.measure,
      chart: state.chart,
      period: state.period,
      unattributed: state.unattributed,
      empty: payload.meta.empty,
      data: { labels: payload.labels, datasets: payload.datasets },
      meta: payload.meta,
    };
    canvas.dataset.query = query;
    if (payload.meta.empty) {
      showMessage(payload.meta.empty_message);
      return;
    }
    emptyNode.hidden = true;
    canvasBox.hidden = false;
    var previous = Chart.getChart(canvas);
    if (previous) {
      previous.destroy();
    }
    drawLegend(new Chart(canvas, config(payload)));
  }

  function draw() {
    var ticket = ++drawing;
    var query = chartQuery();
    var base = state.view === "sources" ? state.urls.sources : state.urls.total;
    loadingNode.hidden = false;
    fetch(base + "?" + query, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (payload) {
        if (ticket === drawing) {
          render(payload, query);
        }
      })
      .catch(function () {
        if (ticket === drawing) {
          loadingNode.hidden = true;
          showMessage("The chart could not be loaded. Reload the page to try again.");
        }
      });
  }

  // --- recomputing: wait for the new result -----------------------------------------------------

  function pollStatus() {
    var timer = window.setInterval(function () {
      // The page's workspace, not the session's: another tab may have switched it since.
      var url = state.urls.status + "?" + new URLSearchParams({ workspace: state.workspace });
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 404) {
            // Deleted meanwhile (or no longer the user's): no result will ever come.
            window.clearInterval(timer);
            var gone = document.getElementById("recompute-banner");
            if (gone) {
              gone.textContent =
                "This goal can no longer be found: it was deleted, or you left its workspace.";
            }
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (status) {
          if (status && status.status === "ready") {
            window.clearInterval(timer);
            var banner = document.getElementById("recompute-banner");
            if (banner) {
              banner.textContent = "The new result is ready. Loading it…";
            }
            window.location.reload();
          }
        })
        .catch(function () {
          // A network hiccup: ask again at the next tick.
        });
    }, 1500);
  }

  nameWorkspace();
  if (typeof Chart === "undefined") {
    loadingNode.hidden = true;
    emptyNode.textContent = "The chart library could not be loaded.";
    emptyNode.hidden = false;
  } else {
    themeColors();
    followTheme();
    if (initialChart) {
      // The page embeds the chart of its own report: no request until the view changes.
      render(initialChart, chartQuery());
    } else {
      draw();
    }
  }
  if (state.status === "recomputing") {
    pollStatus();
  }
})();
