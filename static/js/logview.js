// The live log view shared by job pages and server consoles: replays persisted lines,
// then follows new ones over a WebSocket (DESIGN.md §4), reconnecting and resuming
// after the last seq it has, so no line is lost or shown twice.
// Lines are only ever inserted as text (textContent, text nodes), never as markup;
// ANSI colour codes become spans with classes.
//
// Markup: an element with data-ws-path (optional: data-after, data-max-lines,
// data-lines-url) containing .log-lines (an <ol>), .log-conn and .log-follow (a
// checkbox); optional: .log-scroll (the box the log scrolls in; without one, or if
// it does not scroll, the page does), .log-times (a checkbox showing each line's
// time), .log-skipped / .log-skipped-count / .log-more (the note about earlier lines).
//
// Each line is <li id="L<seq>" class="line stream-<stream>">; its number links to
// #L<seq>, shift-click extends to #L<a>-L<b>, and such a hash marks the lines with
// class "selected" and scrolls to them, loading them from data-lines-url
// (JSON {"lines": [...]}, rows after < seq < before) when they are older than
// what the page holds.
//
// Options: onState(msg), onEnd(), onMessage(msg) for other frames, onLine(li, row) as
// each line's element is made (the console adds to it), onLines(elements, live) after
// lines are added (live: appended from the socket; else loaded older lines),
// onReveal(element) before the view scrolls to a line.
(function () {
  "use strict";

  var WINDOW = 5000; // lines one request for older lines brings at most (the server caps it too)
  var CONTEXT = 20; // lines loaded around a linked line that was not on the page
  var TIMES_KEY = "logview.times";
  var TOO_MANY = 4429; // close code: over the per-user cap of open live views
  var TOO_MANY_TEXT = "too many live views open: close some tabs (retrying every 30 s)";
  var TOO_MANY_RETRY_MS = 30000;

  function LogView(root, options) {
    this.root = root;
    this.options = options || {};
    this.list = root.querySelector(".log-lines");
    this.conn = root.querySelector(".log-conn");
    this.follow = root.querySelector(".log-follow");
    this.times = root.querySelector(".log-times");
    this.scroller = root.querySelector(".log-scroll");
    this.linesUrl = root.dataset.linesUrl || "";
    // The page may open on the tail of a huge log (data-after) and keeps at most
    // data-max-lines lines in the DOM, so it never slows down with the log's size.
    this.lastSeq = parseInt(root.dataset.after, 10) || 0;
    this.skipped = this.lastSeq; // lines before the first one shown
    this.maxLines = parseInt(root.dataset.maxLines, 10) || 10000;
    this.count = 0; // lines received from the socket
    this.rendered = 0; // line elements in the list
    this.ended = false;
    this.retry = 0;
    this.socket = null;
    this.selection = null; // [first, last] seq of the marked lines
    this.anchor = null; // the line clicked last, where a shift-click range starts
    this.pending = null; // a seq to scroll to once it arrives
    var self = this;
    var onScroll = function () { self.onScroll(); };
    window.addEventListener("scroll", onScroll, { passive: true });
    if (this.scroller) this.scroller.addEventListener("scroll", onScroll, { passive: true });
    if (this.follow) {
      this.follow.addEventListener("change", function () { if (self.follow.checked) self.scrollToEnd(); });
    }
    if (this.times) {
      this.times.checked = readSetting(TIMES_KEY) === "1";
      this.times.addEventListener("change", function () { self.showTimes(self.times.checked, true); });
      this.showTimes(this.times.checked, false);
    }
    this.list.addEventListener("click", function (e) { self.onListClick(e); });
    var more = root.querySelector(".log-more");
    if (more) more.addEventListener("click", function () { self.loadEarlier(); });
    window.addEventListener("hashchange", function () { self.selectFromHash(); });
    this.selectFromHash();
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
      if (e.code === TOO_MANY) {
        // This user has too many live views open (l4d2site/socket_budget.py): say so and try
        // again only now and then, so closing another tab is enough to bring this one back.
        self.setConn(TOO_MANY_TEXT, "too many");
        setTimeout(function () { self.connect(); }, TOO_MANY_RETRY_MS);
        return;
      }
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

  LogView.prototype.setConn = function (text, state) {
    this.conn.textContent = text;
    this.conn.dataset.conn = state || text;
  };

  // --- lines -------------------------------------------------------------------

  LogView.prototype.renderLine = function (row) {
    var li = document.createElement("li");
    li.className = "line stream-" + row.stream;
    li.id = "L" + row.seq;
    li.dataset.seq = row.seq;
    var num = document.createElement("a");
    num.className = "seq";
    num.href = "#L" + row.seq;
    num.textContent = row.seq;
    li.appendChild(num);
    if (row.at) {
      li.dataset.at = row.at;
      var at = new Date(row.at);
      var ts = document.createElement("time");
      ts.className = "ts";
      ts.dateTime = row.at;
      ts.textContent = pad(at.getHours()) + ":" + pad(at.getMinutes()) + ":" + pad(at.getSeconds());
      li.appendChild(ts);
    }
    var text = document.createElement("span");
    text.className = "text";
    appendAnsi(text, row.line);
    li.appendChild(text);
    if (this.isSelected(row.seq)) li.classList.add("selected");
    if (this.options.onLine) this.options.onLine(li, row);
    return li;
  };

  // Live lines, from the socket: appended in seq order, each exactly once.
  LogView.prototype.addLines = function (lines) {
    var frag = document.createDocumentFragment();
    var added = [];
    for (var i = 0; i < lines.length; i++) {
      var row = lines[i];
      if (row.seq <= this.lastSeq) continue; // never show a line twice
      this.lastSeq = row.seq;
      this.count++;
      var li = this.renderLine(row);
      added.push(li);
      frag.appendChild(li);
    }
    if (!added.length) return;
    var before = this.rendered;
    var tail = this.list.lastElementChild; // older lines loaded first may end before these start
    var contiguous = !tail || seqOf(tail) + 1 === seqOf(added[0]);
    this.list.appendChild(frag);
    this.rendered += added.length;
    if (!contiguous) this.markGaps();
    if (!before) this.updateSkipped();
    this.trim();
    if (this.options.onLines) this.options.onLines(added, true);
    if (this.pending !== null && this.pending <= this.lastSeq) this.scrollToSelection();
    else if (this.follow && this.follow.checked) this.scrollToEnd();
  };

  // Older lines (from data-lines-url): each goes where its seq belongs; gaps are marked.
  LogView.prototype.insertRows = function (rows) {
    var existing = this.lineElements();
    var at = 0;
    var added = [];
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      if (row.seq > this.lastSeq) break; // newer lines come from the socket, in order
      while (at < existing.length && seqOf(existing[at]) < row.seq) at++;
      if (at < existing.length && seqOf(existing[at]) === row.seq) continue;
      var li = this.renderLine(row);
      this.list.insertBefore(li, at < existing.length ? existing[at] : null);
      added.push(li);
    }
    this.rendered += added.length;
    this.markGaps();
    this.updateSkipped();
    if (added.length && this.options.onLines) this.options.onLines(added, false);
    return added;
  };

  LogView.prototype.lineElements = function () {
    return Array.prototype.slice.call(this.list.querySelectorAll("li.line"));
  };

  // Fetch the lines first..last (at most WINDOW of them) and insert them.
  LogView.prototype.loadRange = function (first, last) {
    var self = this;
    first = Math.max(1, first);
    last = Math.min(last, first + WINDOW - 1, this.lastSeq);
    if (!this.linesUrl || last < first) return Promise.resolve([]);
    var url = this.linesUrl + "?after=" + (first - 1) + "&before=" + (last + 1);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) { return self.insertRows(data.lines || []); })
      .catch(function (err) {
        // The log view goes on without them; the download has every line.
        if (window.console) console.warn("could not load lines " + first + "-" + last + ": " + err);
        return [];
      });
  };

  // "Show more": the WINDOW lines just above the first one shown.
  LogView.prototype.loadEarlier = function () {
    var first = this.firstSeq();
    return this.loadRange(first - WINDOW, first - 1);
  };

  LogView.prototype.firstSeq = function () {
    var first = this.list.querySelector("li.line");
    return first ? seqOf(first) : this.lastSeq + 1;
  };

  // A gap marker between two loaded stretches of lines that are not contiguous.
  LogView.prototype.markGaps = function () {
    var old = this.list.querySelectorAll("li.log-gap");
    for (var i = 0; i < old.length; i++) old[i].remove();
    var lines = this.lineElements();
    for (var j = 1; j < lines.length; j++) {
      var from = seqOf(lines[j - 1]) + 1, to = seqOf(lines[j]) - 1;
      if (to < from) continue;
      var gap = document.createElement("li");
      gap.className = "log-gap";
      gap.dataset.from = from;
      gap.dataset.to = to;
      gap.appendChild(document.createTextNode((to - from + 1) + " lines not shown: "));
      var show = document.createElement("button");
      show.type = "button";
      show.className = "link log-gap-show";
      show.textContent = to - from + 1 > WINDOW ? "show " + WINDOW + " more" : "show them";
      gap.appendChild(show);
      this.list.insertBefore(gap, lines[j]);
    }
  };

  LogView.prototype.updateSkipped = function () {
    this.skipped = this.firstSeq() - 1;
    var count = this.root.querySelector(".log-skipped-count");
    var note = this.root.querySelector(".log-skipped");
    if (count) count.textContent = this.skipped;
    if (note) note.hidden = this.skipped <= 0;
  };

  LogView.prototype.trim = function () {
    var extra = this.rendered - this.maxLines;
    if (extra <= 0) return;
    while (extra > 0 && this.list.firstChild) {
      var node = this.list.firstChild;
      if (node.classList && node.classList.contains("line")) { extra--; this.rendered--; }
      this.list.removeChild(node);
    }
    while (this.list.firstChild && this.list.firstChild.classList.contains("log-gap")) {
      this.list.removeChild(this.list.firstChild);
    }
    this.updateSkipped();
  };

  // --- scrolling -------------------------------------------------------------------

  // The box the log scrolls in: .log-scroll when the page's CSS makes it scroll, else the page.
  LogView.prototype.scrollBox = function () {
    if (this.scroller) {
      var overflow = getComputedStyle(this.scroller).overflowY;
      if (overflow === "auto" || overflow === "scroll") return this.scroller;
    }
    return document.scrollingElement || document.documentElement;
  };

  LogView.prototype.scrollToEnd = function () {
    this.autoScrolling = true;
    var box = this.scrollBox();
    box.scrollTop = box.scrollHeight;
    var self = this;
    requestAnimationFrame(function () { self.autoScrolling = false; });
  };

  LogView.prototype.onScroll = function () {
    if (this.autoScrolling || !this.follow) return;
    var box = this.scrollBox();
    this.follow.checked = box.scrollHeight - box.clientHeight - box.scrollTop <= 40;
  };

  LogView.prototype.stopFollowing = function () {
    if (this.follow) this.follow.checked = false;
  };

  // Scroll to a line, loading it (and a few around it) first if the page does not have it.
  // Resolves to the line's element, or null if there is no such line.
  LogView.prototype.reveal = function (seq, last) {
    var self = this;
    last = last || seq;
    this.stopFollowing();
    var shown = document.getElementById("L" + seq);
    if (shown) return Promise.resolve(this.scrollTo(shown));
    if (seq > this.lastSeq) {
      this.pending = seq; // not here yet: scroll when it arrives
      return Promise.resolve(null);
    }
    return this.loadRange(seq - CONTEXT, Math.min(last, seq + WINDOW - 2 * CONTEXT) + CONTEXT).then(function () {
      var el = document.getElementById("L" + seq);
      return el ? self.scrollTo(el) : null;
    });
  };

  LogView.prototype.scrollTo = function (el) {
    if (this.options.onReveal) this.options.onReveal(el);
    el.scrollIntoView({ block: "center" });
    return el;
  };

  // --- permalinks: #L12 and #L12-L40 ---------------------------------------------------

  LogView.prototype.isSelected = function (seq) {
    return this.selection !== null && seq >= this.selection[0] && seq <= this.selection[1];
  };

  LogView.prototype.select = function (range) {
    this.selection = range;
    var marked = this.list.querySelectorAll("li.selected");
    for (var i = 0; i < marked.length; i++) marked[i].classList.remove("selected");
    if (!range) return;
    var lines = this.lineElements();
    for (var j = 0; j < lines.length; j++) {
      if (this.isSelected(seqOf(lines[j]))) lines[j].classList.add("selected");
    }
  };

  LogView.prototype.selectFromHash = function () {
    var match = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    if (!match) { this.select(null); return; }
    var a = parseInt(match[1], 10), b = match[2] ? parseInt(match[2], 10) : a;
    this.select([Math.min(a, b), Math.max(a, b)]);
    this.anchor = Math.min(a, b);
    this.scrollToSelection();
  };

  LogView.prototype.scrollToSelection = function () {
    var self = this;
    this.pending = null;
    if (!this.selection) return Promise.resolve(null);
    var first = this.selection[0], last = this.selection[1];
    return this.reveal(first, last).then(function (el) {
      if (el) self.select(self.selection); // loaded lines of the range get their mark too
      return el;
    });
  };

  LogView.prototype.onListClick = function (e) {
    var gap = e.target.closest(".log-gap-show");
    if (gap) {
      var from = parseInt(gap.parentNode.dataset.from, 10);
      this.loadRange(from, parseInt(gap.parentNode.dataset.to, 10));
      return;
    }
    var num = e.target.closest("a.seq");
    if (!num || !this.list.contains(num)) return;
    e.preventDefault(); // set the hash without the browser jumping to it
    var seq = seqOf(num.parentNode);
    var range = [seq, seq];
    if (e.shiftKey && this.anchor !== null) {
      range = [Math.min(this.anchor, seq), Math.max(this.anchor, seq)];
      var sel = window.getSelection();
      if (sel) sel.removeAllRanges(); // shift-click also extends the text selection
    } else {
      this.anchor = seq;
    }
    history.replaceState(null, "", range[0] === range[1] ? "#L" + seq : "#L" + range[0] + "-L" + range[1]);
    this.stopFollowing();
    this.select(range);
  };

  // --- timestamps ----------------------------------------------------------------------

  LogView.prototype.showTimes = function (on, remember) {
    this.root.classList.toggle("show-times", on);
    if (remember) writeSetting(TIMES_KEY, on ? "1" : "0");
  };

  // --- ANSI SGR: colours and styles as classes; other escape sequences are dropped -----

  var ESCAPES = /\x1b\[([0-9;]*)m|\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

  function appendAnsi(parent, text) {
    if (text.indexOf("\x1b") === -1) { parent.textContent = text; return; }
    var style = {};
    var last = 0, match;
    ESCAPES.lastIndex = 0;
    while ((match = ESCAPES.exec(text)) !== null) {
      if (match.index > last) appendStyled(parent, text.slice(last, match.index), style);
      if (match[1] !== undefined) applySgr(style, match[1]);
      last = ESCAPES.lastIndex;
    }
    if (last < text.length) appendStyled(parent, text.slice(last), style);
  }

  function appendStyled(parent, text, style) {
    var classes = [];
    if (style.fg !== undefined) classes.push("ansi-fg-" + style.fg);
    if (style.bg !== undefined) classes.push("ansi-bg-" + style.bg);
    ["bold", "dim", "italic", "underline"].forEach(function (k) { if (style[k]) classes.push("ansi-" + k); });
    if (!classes.length && !style.fgRgb && !style.bgRgb) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    var span = document.createElement("span");
    span.className = classes.join(" ");
    if (style.fgRgb) span.style.color = style.fgRgb; // CSSOM, not markup: allowed by the CSP
    if (style.bgRgb) span.style.backgroundColor = style.bgRgb;
    span.textContent = text;
    parent.appendChild(span);
  }

  function applySgr(style, params) {
    var codes = params === "" ? [0] : params.split(";").map(function (p) { return parseInt(p, 10) || 0; });
    for (var i = 0; i < codes.length; i++) {
      var c = codes[i];
      if (c === 0) { for (var k in style) delete style[k]; }
      else if (c === 1) style.bold = true;
      else if (c === 2) style.dim = true;
      else if (c === 3) style.italic = true;
      else if (c === 4) style.underline = true;
      else if (c === 22) { style.bold = false; style.dim = false; }
      else if (c === 23) style.italic = false;
      else if (c === 24) style.underline = false;
      else if (c >= 30 && c <= 37) setColour(style, "fg", c - 30);
      else if (c >= 90 && c <= 97) setColour(style, "fg", c - 90 + 8);
      else if (c >= 40 && c <= 47) setColour(style, "bg", c - 40);
      else if (c >= 100 && c <= 107) setColour(style, "bg", c - 100 + 8);
      else if (c === 39) setColour(style, "fg", undefined);
      else if (c === 49) setColour(style, "bg", undefined);
      else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
        setColour(style, c === 38 ? "fg" : "bg", codes[i + 2] || 0);
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
        var rgb = "rgb(" + [codes[i + 2], codes[i + 3], codes[i + 4]].map(byte).join(",") + ")";
        setColour(style, c === 38 ? "fg" : "bg", undefined);
        style[c === 38 ? "fgRgb" : "bgRgb"] = rgb;
        i += 4;
      }
    }
  }

  // 0-15: a class; 16-255 (the xterm cube and greys): an rgb() colour.
  function setColour(style, which, n) {
    delete style[which];
    delete style[which + "Rgb"];
    if (n === undefined) return;
    if (n < 16) { style[which] = n; return; }
    var rgb;
    if (n >= 232) { var g = 8 + 10 * (n - 232); rgb = [g, g, g]; }
    else {
      var levels = [0, 95, 135, 175, 215, 255], v = n - 16;
      rgb = [levels[Math.floor(v / 36)], levels[Math.floor(v / 6) % 6], levels[v % 6]];
    }
    style[which + "Rgb"] = "rgb(" + rgb.join(",") + ")";
  }

  function byte(n) { return Math.max(0, Math.min(255, n || 0)); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function seqOf(el) { return parseInt(el.dataset.seq, 10); }

  function readSetting(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function writeSetting(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: not remembered */ }
  }

  LogView.appendAnsi = appendAnsi;
  window.LogView = LogView;
})();
