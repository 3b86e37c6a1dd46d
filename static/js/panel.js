// Page glue: htmx answers, the job page's live status, and durations that keep counting.
(function () {
  "use strict";

  // htmx 2 does not swap 4xx answers by default; a 409 cancel answer carries the
  // up-to-date row or panel, so show it.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status === 409) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  var FINISHED = ["succeeded", "failed", "cancelled"];

  // The job page: badge, progress bar and status panel follow the log's state frames.
  function JobPage(root) {
    this.jobId = root.dataset.jobId;
    this.state = root.dataset.jobState;
    this.progress = document.getElementById("log-progress");
    this.bar = document.getElementById("log-progress-bar");
    this.barLabel = document.getElementById("log-progress-label");
    var self = this;
    this.log = new window.LogView(root, { onState: function (msg) { self.setState(msg); } });
  }

  // hostctl reports the whole job's progress as a whole percent (the state frame's "progress").
  JobPage.prototype.setProgress = function (percent) {
    this.progress.hidden = false;
    this.bar.style.width = Math.min(100, percent) + "%";
    this.barLabel.textContent = percent + "%";
  };

  JobPage.prototype.setState = function (msg) {
    var changed = msg.state !== this.state;
    this.state = msg.state;
    var badge = document.getElementById("job-state");
    if (badge) {
      badge.className = "badge s-" + msg.state;
      badge.dataset.jobState = msg.state;
      badge.textContent = msg.state.charAt(0).toUpperCase() + msg.state.slice(1);
    }
    if (msg.progress !== null && msg.progress !== undefined) this.setProgress(msg.progress);
    if (FINISHED.indexOf(msg.state) !== -1) this.progress.hidden = true;
    // Re-render the metadata panel (times, exit code, cancel button) from the server.
    if (changed && window.htmx && document.getElementById("job-status")) {
      htmx.ajax("GET", "/jobs/" + this.jobId, { target: "#job-status", swap: "outerHTML" });
    }
  };

  // While the job runs, the duration on the page keeps counting.
  function tickDuration() {
    var cell = document.getElementById("job-duration");
    if (!cell || !cell.dataset.startedAt || cell.dataset.finished === "1") return;
    var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(cell.dataset.startedAt)) / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    cell.textContent = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("log-view");
    if (root) {
      window.jobPage = new JobPage(root);
      window.logView = window.jobPage.log; // tests and the console drive the view through this
    }
    setInterval(tickDuration, 1000);
  });
})();
