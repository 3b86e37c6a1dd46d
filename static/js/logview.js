// The live log view shared by job pages and server consoles: replays persisted lines,
// then follows new ones over a WebSocket (DESIGN.md §4), reconnecting and resuming
// after the last seq it has, so no line is lost or shown twice.
// Lines are only ever inserted with textContent, so a log line is text, never markup.
//
// Markup: an element with data-ws-path (and optional data-after, data-max-lines)
// containing .log-lines (an <ol>), .log-conn and .log-follow (a checkbox).
// Pages react to "state" and "end" frames through options.onState / options.onEnd,
// to other frames through options.onMessage, and may add to each line's element
// through options.onLine(li, row) (the console adds the line's time).
(function () {
  "use strict";

  function LogView(root, options) {
    this.root = root;
    this.options = options || {};
    this.list = root.querySelector(".log-lines");
    this.conn = root.querySelector(".log-conn");
    this.follow = root.querySelector(".log-follow");
    // The page may open on the tail of a huge log (data-after) and keeps at most
    // data-max-lines lines in the DOM, so it never slows down with the log's size.
    this.lastSeq = parseInt(root.dataset.after, 10) || 0;
    this.skipped = this.lastSeq;
    this.maxLines = parseInt(root.dataset.maxLines, 10) || 10000;
    this.count = 0;
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
      else if (msg.type === "state" && self.options.onState) self.options.onState(msg);
      else if (msg.type === "end") {
        self.ended = true;
        self.setConn("finished");
        if (self.options.onEnd) self.options.onEnd();
      } else if (self.options.onMessage) self.options.onMessage(msg);
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

  LogView.prototype.send = function (message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
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
      if (this.options.onLine) this.options.onLine(li, row);
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
    var count = this.root.querySelector(".log-skipped-count");
    var note = this.root.querySelector(".log-skipped");
    if (count) count.textContent = this.skipped;
    if (note) note.hidden = false;
  };

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

  window.LogView = LogView;
})();
