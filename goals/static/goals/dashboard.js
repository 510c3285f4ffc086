/*
 * While a listed goal recomputes, poll its status and reload the list once every recomputing
 * goal is ready, so Total and Impact show the new result without a manual refresh. The status
 * URLs name the list's workspace (a switch in another tab must not turn them into 404s), and a
 * goal that is gone (404: deleted meanwhile) is waited for no longer: the reload drops it.
 */
(function () {
  "use strict";
  var POLL_MS = 2000;

  function pending() {
    return Array.prototype.slice.call(document.querySelectorAll("td[data-status-url]"));
  }

  function poll() {
    var cells = pending();
    if (!cells.length) {
      return;
    }
    Promise.all(cells.map(function (cell) {
      return fetch(cell.dataset.statusUrl, { cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 404) {
            return { status: "ready" };
          }
          return response.ok ? response.json() : null;
        })
        .then(function (body) { return body !== null && body.status === "ready"; })
        .catch(function () { return false; });
    })).then(function (ready) {
      if (ready.every(Boolean)) {
        window.location.reload();
      } else {
        window.setTimeout(poll, POLL_MS);
      }
    });
  }

  if (pending().length) {
    window.setTimeout(poll, POLL_MS);
  }
})();
