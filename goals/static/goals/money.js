/*
 * Money in the browser's own currency format. The server writes amounts as "1,234.50 EUR" with
 * data-money="1234.50" data-currency="EUR"; this swaps in Intl's format ("€1,234.50"), keeping
 * every decimal the amount has (up to 6), and leaves the server's text as the tooltip.
 */
(function () {
  "use strict";
  var formats = {};

  function formatFor(currency) {
    if (!(currency in formats)) {
      try {
        formats[currency] = new Intl.NumberFormat(undefined, {
          style: "currency", currency: currency, maximumFractionDigits: 6,
        });
      } catch (error) {
        formats[currency] = null; // a code the browser does not know: keep the server's text
      }
    }
    return formats[currency];
  }

  function formatMoney(root) {
    (root || document).querySelectorAll("[data-money][data-currency]").forEach(function (node) {
      var value = Number(node.dataset.money);
      var format = formatFor(node.dataset.currency);
      if (node.dataset.money !== "" && Number.isFinite(value) && format) {
        node.title = node.textContent.trim();
        // A word joiner after the minus sign: a line may break after a hyphen-minus, and a
        // lone "-" above "KWD 1,000,009.745" on a narrow card reads as a positive amount.
        // The decimal text, not the number: Intl formats a string exactly (a double has 15-17
        // significant digits: 99999999999.990001 would show as 99,999,999,999.99).
        node.textContent = format.format(node.dataset.money).replace(/-/g, "-\u2060");
      }
    });
  }

  window.goalsFormatMoney = formatMoney;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { formatMoney(); });
  } else {
    formatMoney();
  }
})();
