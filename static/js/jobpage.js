// The job page on top of the shared log view (logview.js): the status header that
// follows the job's state frames, foldable phases, and search in the log.
(function () {
  "use strict";

  var FINISHED = ["succeeded", "failed", "cancelled"];
  var PHASE_OUTCOME = { succeeded: "ok", failed: "failed", cancelled: "cancelled" };

  function JobPage(root) {
    this.root = root;
    this.jobId = root.dataset.jobId;
    this.state = root.dataset.jobState;
    this.phase = null; // the phase header live lines belong to
    this.factsOpen = false;
    var self = this;
    this.search = null;
    this.log = new window.LogView(root, {
      onState: function (msg) { self.setState(msg); },
      onEnd: function () { self.endPhases(); },
      onLines: function (elements, live) { self.onLines(elements, live); },
      onReveal: function (el) { self.unfoldPhaseOf(el); }
    });
    this.search = new LogSearch(root, this.log);
    this.log.list.addEventListener("click", function (e) {
      var header = e.target.closest("li.phase");
      if (!header || e.target.closest("a.seq")) return;
      self.foldPhase(header, !header.classList.contains("collapsed"));
    });
    // "Details" (phones fold the job's facts); kept across the status panel's re-renders.
    document.addEventListener("click", function (e) {
      if (!e.target.closest(".facts-toggle")) return;
      self.factsOpen = !self.factsOpen;
      self.showFacts();
    });
    document.addEventListener("htmx:afterSettle", function () { self.showFacts(); });
  }

  // --- the header: state badge, progress, status panel ------------------------------

  JobPage.prototype.setState = function (msg) {
    var changed = msg.state !== this.state;
    this.state = msg.state;
    var badge = document.getElementById("job-state");
    if (badge) {
      badge.className = "badge s-" + msg.state;
      badge.dataset.jobState = msg.state;
      badge.textContent = msg.state.charAt(0).toUpperCase() + msg.state.slice(1);
    }
    // A finished job's bar (how it ended) comes with the re-rendered status panel below.
    if (msg.progress !== null && msg.progress !== undefined && FINISHED.indexOf(msg.state) === -1) {
      this.setProgress(msg.progress);
    }
    // "Install queued as job #N" is old news once the job has started.
    if (msg.state !== "queued") {
      var flashes = document.querySelectorAll(".messages .job-queued");
      for (var i = 0; i < flashes.length; i++) flashes[i].remove();
    }
    // Re-render the status panel (times, exit code, failure reason, buttons) from the server.
    if (changed && window.htmx && document.getElementById("job-status")) {
      htmx.ajax("GET", "/jobs/" + this.jobId, { target: "#job-status", swap: "outerHTML" });
    }
  };

  // hostctl reports the whole job's progress as a whole percent (the state frame's "progress").
  JobPage.prototype.setProgress = function (percent) {
    var box = document.getElementById("log-progress");
    if (!box) return;
    box.hidden = false;
    box.className = "progress is-" + this.state;
    box.setAttribute("aria-valuenow", percent);
    document.getElementById("log-progress-bar").style.width = Math.min(100, percent) + "%";
    document.getElementById("log-progress-label").textContent = percent + "%";
  };

  JobPage.prototype.showFacts = function () {
    var panel = document.getElementById("job-status");
    if (!panel) return;
    panel.classList.toggle("facts-open", this.factsOpen);
    var toggle = panel.querySelector(".facts-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", this.factsOpen ? "true" : "false");
  };

  // --- phases: hostctl's structured "phase" lines start a foldable section -----------

  JobPage.prototype.onLines = function (elements, live) {
    if (live) {
      for (var i = 0; i < elements.length; i++) {
        var el = elements[i];
        if (el.classList.contains("stream-phase")) this.startPhase(el);
        else if (this.phase) this.join(el, this.phase);
      }
    } else {
      this.assignPhases();
    }
    if (this.search) this.search.markLines(elements);
  };

  JobPage.prototype.startPhase = function (header) {
    decoratePhase(header);
    if (this.phase) closePhase(this.phase, header.dataset.at, "ok");
    this.phase = header;
    if (FINISHED.indexOf(this.state) === -1) header.classList.add("phase-running");
  };

  JobPage.prototype.join = function (el, header) {
    el.dataset.phase = header.dataset.seq;
    el.hidden = header.classList.contains("collapsed");
  };

  // After older lines were loaded: which phase each line is in, as far as the page can tell
  // (across a stretch of lines it has not loaded, it cannot: those lines belong to none).
  JobPage.prototype.assignPhases = function () {
    var lines = this.log.lineElements();
    var current = null, previous = 0;
    for (var i = 0; i < lines.length; i++) {
      var el = lines[i], seq = parseInt(el.dataset.seq, 10);
      if (seq !== previous + 1) current = null;
      previous = seq;
      if (el.classList.contains("stream-phase")) {
        if (!el.classList.contains("phase")) decoratePhase(el);
        if (current && !current.dataset.ended) closePhase(current, el.dataset.at, "ok");
        current = el;
      } else if (current) {
        this.join(el, current);
      } else {
        delete el.dataset.phase;
      }
    }
    if (current) this.phase = current;
  };

  // The job ended: the last phase ends with it, in the job's outcome.
  JobPage.prototype.endPhases = function () {
    if (!this.phase) return;
    var last = this.log.list.lastElementChild;
    closePhase(this.phase, last && last.dataset.at, PHASE_OUTCOME[this.state] || "ok");
  };

  JobPage.prototype.foldPhase = function (header, folded) {
    header.classList.toggle("collapsed", folded);
    var toggle = header.querySelector(".phase-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", folded ? "false" : "true");
    var members = this.log.list.querySelectorAll('li[data-phase="' + header.dataset.seq + '"]');
    for (var i = 0; i < members.length; i++) members[i].hidden = folded;
  };

  JobPage.prototype.unfoldPhaseOf = function (el) {
    var header = el.dataset.phase && document.getElementById("L" + el.dataset.phase);
    if (header && header.classList.contains("collapsed")) this.foldPhase(header, false);
  };

  function decoratePhase(header) {
    header.classList.add("phase");
    var text = header.querySelector(".text");
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "phase-toggle";
    toggle.setAttribute("aria-expanded", "true");
    toggle.setAttribute("aria-label", "Fold or unfold this phase");
    var mark = document.createElement("span");
    mark.className = "phase-mark";
    var time = document.createElement("span");
    time.className = "phase-time";
    header.insertBefore(toggle, text);
    header.insertBefore(mark, text);
    header.appendChild(time);
  }

  function closePhase(header, endAt, outcome) {
    header.classList.remove("phase-running", "phase-ok", "phase-failed", "phase-cancelled");
    header.classList.add("phase-" + outcome);
    header.dataset.ended = "1";
    var ms = Date.parse(endAt) - Date.parse(header.dataset.at);
    var time = header.querySelector(".phase-time");
    if (time && ms >= 0) time.textContent = span(ms);
  }

  function span(ms) {
    var s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    return m < 60 ? m + "m " + (s % 60) + "s" : Math.floor(m / 60) + "h " + (m % 60) + "m";
  }

  // --- search: /jobs/<id>/search?q= finds lines anywhere in the log ---------------------

  function LogSearch(root, log) {
    this.log = log;
    this.url = root.dataset.searchUrl;
    this.input = root.querySelector(".log-search-input");
    this.count = root.querySelector(".log-search-count");
    this.matches = [];
    this.found = {};
    this.index = -1;
    this.query = "";
    this.truncated = false;
    this.asked = 0;
    if (!this.input || !this.url) return;
    var self = this, timer = null;
    this.input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.run(); }, 300);
    });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        clearTimeout(timer);
        if (self.input.value !== self.query) self.run();
        else self.step(e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") {
        self.input.value = "";
        self.run();
      }
    });
    root.querySelector(".log-search-prev").addEventListener("click", function () { self.step(-1); });
    root.querySelector(".log-search-next").addEventListener("click", function () { self.step(1); });
  }

  LogSearch.prototype.run = function () {
    var self = this, query = this.input.value;
    if (query === this.query) return;
    this.query = query;
    this.matches = [];
    this.found = {};
    this.index = -1;
    this.truncated = false;
    var asked = ++this.asked;
    if (!query) { this.mark(); this.showCount(); return; }
    this.count.textContent = "…";
    fetch(this.url + "?q=" + encodeURIComponent(query), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        if (asked !== self.asked) return; // a newer search went out meanwhile
        self.matches = data.matches || [];
        self.truncated = !!data.truncated;
        for (var i = 0; i < self.matches.length; i++) self.found[self.matches[i]] = true;
        self.mark();
        if (self.matches.length) self.go(0); else self.showCount();
      })
      .catch(function () {
        if (asked === self.asked) self.count.textContent = "search failed";
      });
  };

  LogSearch.prototype.step = function (delta) {
    var n = this.matches.length;
    if (!n) return;
    this.go(this.index < 0 ? (delta > 0 ? 0 : n - 1) : (this.index + delta + n) % n);
  };

  LogSearch.prototype.go = function (index) {
    var self = this;
    this.index = index;
    this.showCount();
    this.log.reveal(this.matches[index]).then(function (el) {
      var old = self.log.list.querySelectorAll("li.match-current");
      for (var i = 0; i < old.length; i++) old[i].classList.remove("match-current");
      if (el) el.classList.add("match-current");
    });
  };

  LogSearch.prototype.showCount = function () {
    if (!this.query) { this.count.textContent = ""; return; }
    var n = this.matches.length;
    if (!n) { this.count.textContent = "no matches"; return; }
    this.count.textContent = (this.index + 1) + " / " + n + (this.truncated ? "+" : "");
  };

  // Matched lines on the page get class "match"; the matched text is highlighted where
  // the browser has the CSS Custom Highlight API (no change to the lines themselves).
  LogSearch.prototype.mark = function () {
    var old = this.log.list.querySelectorAll("li.match");
    for (var i = 0; i < old.length; i++) old[i].classList.remove("match", "match-current");
    this.markLines(this.log.lineElements());
  };

  LogSearch.prototype.markLines = function (elements) {
    if (!this.query) { this.highlight(); return; }
    for (var i = 0; i < elements.length; i++) {
      if (this.found[elements[i].dataset.seq]) elements[i].classList.add("match");
    }
    this.highlight();
  };

  LogSearch.prototype.highlight = function () {
    if (!window.Highlight || !window.CSS || !CSS.highlights) return;
    if (!this.query) { CSS.highlights.delete("log-search"); return; }
    var ranges = [], needle = this.query.toLowerCase();
    var lines = this.log.list.querySelectorAll("li.match .text");
    for (var i = 0; i < lines.length; i++) textRanges(lines[i], needle, ranges);
    var highlight = new Highlight();
    for (var j = 0; j < ranges.length; j++) highlight.add(ranges[j]);
    CSS.highlights.set("log-search", highlight);
  };

  function textRanges(el, needle, out) {
    var nodes = [], texts = [], walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), node;
    while ((node = walker.nextNode())) { nodes.push(node); texts.push(node.data); }
    var full = texts.join("").toLowerCase();
    var from = 0, at;
    while ((at = full.indexOf(needle, from)) !== -1) {
      var range = document.createRange();
      boundary(range, nodes, at, true);
      boundary(range, nodes, at + needle.length, false);
      out.push(range);
      from = at + needle.length;
    }
  }

  function boundary(range, nodes, offset, start) {
    for (var i = 0; i < nodes.length; i++) {
      var length = nodes[i].data.length;
      if (start ? offset < length : offset <= length) {
        if (start) range.setStart(nodes[i], offset); else range.setEnd(nodes[i], offset);
        return;
      }
      offset -= length;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("log-view");
    if (!root) return;
    window.jobPage = new JobPage(root);
    window.logView = window.jobPage.log; // tests drive the view through this
  });
})();
