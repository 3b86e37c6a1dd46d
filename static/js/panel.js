// Page glue on every page: htmx answers, relative times, durations that keep counting.
(function () {
  "use strict";

  // htmx 2 does not swap 4xx answers by default; a 409 cancel answer carries the
  // up-to-date row or panel, so show it.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status === 409) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  // A button with data-confirm asks first (Stop, Restart, Update, Install while players are
  // on). Delegated, so buttons that htmx swaps in later ask too.
  document.addEventListener("submit", function (e) {
    var button = e.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) e.preventDefault();
  }, true);

  // /admin/jobs: one box selects every job shown for a bulk action.
  document.addEventListener("change", function (e) {
    if (!e.target.matches("input.select-all")) return;
    var boxes = e.target.closest("table").querySelectorAll('input[name="_selected_action"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = e.target.checked;
  });

  // --- times: <time datetime=... data-rel> (the panel_tags `reltime` filter) ----------
  // Shown as "3 min ago" in words, with the exact time in the viewer's own time zone
  // as the tooltip; the same on every page.

  var EXACT = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
                second: "2-digit", timeZoneName: "short" };

  function relative(date, now) {
    var seconds = Math.round((now - date) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 45) return future ? "in a few seconds" : "just now";
    if (s < 90) text = "1 min";
    else if (s < 45 * 60) text = Math.round(s / 60) + " min";
    else if (s < 90 * 60) text = "1 hour";
    else if (s < 22 * 3600) text = Math.round(s / 3600) + " hours";
    else if (s < 36 * 3600) return future ? "tomorrow" : "yesterday";
    else if (s < 30 * 86400) text = Math.round(s / 86400) + " days";
    else {
      var sameYear = date.getFullYear() === new Date(now).getFullYear();
      return date.toLocaleDateString(undefined, sameYear ? { month: "short", day: "numeric" }
        : { year: "numeric", month: "short", day: "numeric" });
    }
    return future ? "in " + text : text + " ago";
  }

  function refreshTimes(root) {
    var now = Date.now();
    var times = (root || document).querySelectorAll("time[data-rel]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) continue;
      el.textContent = relative(date, now);
      el.title = date.toLocaleString(undefined, EXACT);
    }
  }

  window.panelTimes = { relative: relative, refresh: refreshTimes };

  // While a job runs, its duration on the page keeps counting.
  function tickDuration() {
    var cell = document.getElementById("job-duration");
    if (!cell || !cell.dataset.startedAt || cell.dataset.finished === "1") return;
    var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(cell.dataset.startedAt)) / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    cell.textContent = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  // A swapped-in row or panel brings new <time> elements (a handful per page: redo them all).
  document.addEventListener("htmx:afterSettle", function () { refreshTimes(document); });
  document.addEventListener("DOMContentLoaded", function () {
    refreshTimes(document);
    setInterval(refreshTimes, 30000);
    setInterval(tickDuration, 1000);
  });
})();
