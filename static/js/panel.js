// Live job log view: replays persisted lines, then follows new ones over a WebSocket.
// Lines are only ever inserted with textContent, so a log line is text, never markup.
(function () {
  "use strict";

  // htmx 2 does not swap 4xx answers by default; a 409 cancel answer carries the
  // up-to-date row or panel, so show it.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status === 409) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  var FINISHED = ["succeeded", "failed", "cancelled"];

  function LogView(root) {
    this.root = root;
    this.jobId = root.dataset.jobId;
    this.list = root.querySelector("#log-lines");
    this.conn = root.querySelector("#log-conn");
    this.follow = root.querySelector("#log-follow");
    this.progress = root.querySelector("#log-progress");
    this.bar = root.querySelector("#log-progress-bar");
    this.barLabel = root.querySelector("#log-progress-label");
    // The page may open on the tail of a huge log (data-after) and keeps at most
    // data-max-lines lines in the DOM, so it never slows down with the log's size.
    this.lastSeq = parseInt(root.dataset.after, 10) || 0;
    this.skipped = this.lastSeq;
    this.maxLines = parseInt(root.dataset.maxLines, 10) || 10000;
    this.count = 0;
    this.state = root.dataset.jobState;
    this.ended = false;
    this.retry = 0;
    this.socket = null;
    var self = this;
    window.addEventListener("scroll", function () { self.onScroll(); }, { passive: true });
    this.connect();
  }

  LogView.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + this.root.dataset.wsPath + "?after=" + this.lastSeq;
    this.setConn("connecting…");
    var socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = function () { self.retry = 0; self.setConn("live"); };
    socket.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg.type === "lines") self.addLines(msg.lines);
      else if (msg.type === "state") self.setState(msg);
      else if (msg.type === "end") { self.ended = true; self.setConn("finished"); }
    };
    socket.onclose = function (e) {
      if (self.socket !== socket) return;
      if (self.ended) return;
      if (e.code === 4403) { self.setConn("not allowed"); return; }
      // Dropped: come back and resume after the last line we have.
      var delay = Math.min(10000, 500 * Math.pow(2, self.retry++));
      self.setConn("reconnecting…");
      setTimeout(function () { self.connect(); }, delay);
    };
  };

  LogView.prototype.setConn = function (text) {
    this.conn.textContent = text;
    this.conn.dataset.conn = text;
  };

  LogView.prototype.addLines = function (lines) {
    var frag = document.createDocumentFragment();
    for (var i = 0; i < lines.length; i++) {
      var row = lines[i];
      if (row.seq <= this.lastSeq) continue; // never show a line twice
      this.lastSeq = row.seq;
      this.count++;
      var li = document.createElement("li");
      li.className = "line stream-" + row.stream;
      li.dataset.seq = row.seq;
      var num = document.createElement("span");
      num.className = "seq";
      num.textContent = row.seq;
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = row.line;
      li.appendChild(num);
      li.appendChild(text);
      frag.appendChild(li);
    }
    this.list.appendChild(frag);
    this.trim();
    if (this.follow.checked) this.scrollToEnd();
  };

  LogView.prototype.trim = function () {
    var extra = this.list.children.length - this.maxLines;
    if (extra <= 0) return;
    for (var i = 0; i < extra; i++) this.list.removeChild(this.list.firstChild);
    this.skipped += extra;
    document.getElementById("log-skipped-count").textContent = this.skipped;
    document.getElementById("log-skipped").hidden = false;
  };

  // hostctl reports the whole job's progress as a whole percent (the state frame's "progress").
  LogView.prototype.setProgress = function (percent) {
    this.progress.hidden = false;
    this.bar.style.width = Math.min(100, percent) + "%";
    this.barLabel.textContent = percent + "%";
  };

  LogView.prototype.setState = function (msg) {
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

  LogView.prototype.scrollToEnd = function () {
    this.autoScrolling = true;
    window.scrollTo(0, document.body.scrollHeight);
    var self = this;
    requestAnimationFrame(function () { self.autoScrolling = false; });
  };

  LogView.prototype.onScroll = function () {
    if (this.autoScrolling) return;
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    this.follow.checked = atBottom;
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("log-view");
    if (root) window.logView = new LogView(root);
    setInterval(tickDuration, 1000);
  });
})();
