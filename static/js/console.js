// The server console page: the shared live log view (logview.js) plus a command box.
// Commands go over the console's WebSocket ({"type": "command"}); while it is
// reconnecting they go as a normal form POST (fetch), so a command is never silently lost.
// The box is enabled only while the state frames say the server is running.
// Output is text only (textContent): nothing a server prints can become markup.
(function () {
  "use strict";

  var HISTORY = 100;

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function ConsolePage(root) {
    this.root = root;
    this.form = document.getElementById("console-form");
    this.input = document.getElementById("console-command");
    this.button = document.getElementById("console-send");
    this.reason = document.getElementById("console-reason");
    this.error = document.getElementById("console-error");
    this.badge = document.getElementById("console-state");
    this.storageKey = "console-history-" + root.dataset.serverId;
    this.history = this.loadHistory();
    this.position = this.history.length;
    this.draft = "";
    var self = this;
    this.view = new window.LogView(root, {
      onState: function (msg) { self.setState(msg); },
      onMessage: function (msg) { self.onMessage(msg); },
      onLine: function (li, row) { self.addTime(li, row); }
    });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.send(); });
    this.input.addEventListener("keydown", function (e) { self.onKey(e); });
  }

  ConsolePage.prototype.loadHistory = function () {
    try { return JSON.parse(sessionStorage.getItem(this.storageKey)) || []; } catch (err) { return []; }
  };

  ConsolePage.prototype.remember = function (text) {
    if (this.history[this.history.length - 1] !== text) this.history.push(text);
    if (this.history.length > HISTORY) this.history.shift();
    this.position = this.history.length;
    this.draft = "";
    try { sessionStorage.setItem(this.storageKey, JSON.stringify(this.history)); } catch (err) { /* private mode */ }
  };

  ConsolePage.prototype.onKey = function (e) {
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    if (!this.history.length) return;
    e.preventDefault();
    if (this.position === this.history.length) this.draft = this.input.value;
    if (e.key === "ArrowUp") this.position = Math.max(0, this.position - 1);
    else this.position = Math.min(this.history.length, this.position + 1);
    this.input.value = this.position === this.history.length ? this.draft : this.history[this.position];
    var end = this.input.value.length;
    this.input.setSelectionRange(end, end);
  };

  ConsolePage.prototype.send = function () {
    var text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    this.showError("");
    this.remember(text);
    this.input.value = "";
    if (!this.view.send({ type: "command", command: text })) this.post(text);
  };

  // The fallback while the WebSocket is down: the form's own POST, answered as an htmx fragment.
  ConsolePage.prototype.post = function (text) {
    var self = this;
    var body = new FormData(this.form);
    body.set("command", text);
    fetch(this.form.action, { method: "POST", body: body, headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.ok) return;
        return response.text().then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var error = doc.getElementById("console-error");
          self.showError(error ? error.textContent : "The command was not sent (" + response.status + ").");
        });
      })
      .catch(function () { self.showError("The command was not sent: the panel cannot be reached."); });
  };

  ConsolePage.prototype.onMessage = function (msg) {
    if (msg.type === "error") this.showError(msg.error);
  };

  ConsolePage.prototype.showError = function (text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  };

  ConsolePage.prototype.setState = function (msg) {
    var running = msg.state === "running";
    var label = msg.state.replace(/_/g, " ");
    this.badge.className = "badge s-" + msg.state;
    this.badge.dataset.state = msg.state;
    this.badge.textContent = label.charAt(0).toUpperCase() + label.slice(1);
    this.input.disabled = !running;
    this.button.disabled = !running;
    this.reason.hidden = running;
    this.reason.textContent = "The server is " + label + ": commands can be sent while it is running.";
  };

  // Each line shows the time it was stored, in the viewer's time zone; the exact UTC time on hover.
  ConsolePage.prototype.addTime = function (li, row) {
    if (!row.at) return;
    var at = new Date(row.at);
    var time = document.createElement("time");
    time.className = "at";
    time.dateTime = row.at;
    time.title = at.toISOString();
    time.textContent = two(at.getHours()) + ":" + two(at.getMinutes()) + ":" + two(at.getSeconds());
    li.insertBefore(time, li.lastChild);
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("console");
    if (!root) return;
    window.consolePage = new ConsolePage(root);
    window.logView = window.consolePage.view; // tests drive and read the view through this
  });
})();
