// The live server page and server list: state frames over a WebSocket (servers/live.py),
// written into the page with textContent only (player names are other people's text).
// The server page re-fetches its actions, recent jobs and auto-restart switch (htmx)
// when what they depend on changes; durations ("3 min ago", uptime) tick every second.
(function () {
  "use strict";

  var follow = window.L4D2.followState; // static/js/statesocket.js

  // --- words for times ------------------------------------------------------------------
  function span(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60);
    if (h < 24) return h + " h " + (m % 60) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }

  function secondsSince(iso) { return (Date.now() - Date.parse(iso)) / 1000; }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
    return el;
  }

  function playerCount(frame) {
    return (frame.player_count === null || frame.player_count === undefined ? "—" : frame.player_count) +
      "/" + frame.max_players;
  }

  var LIVE = ["running", "unresponsive"];

  // Durations on the page follow the clock between frames.
  function tick() {
    var uptime = document.getElementById("server-uptime");
    if (uptime) {
      var live = uptime.dataset.since && LIVE.indexOf(uptime.dataset.state) !== -1;
      uptime.textContent = live ? span(secondsSince(uptime.dataset.since)) : "—";
    }
    var checked = document.getElementById("server-checked");
    if (checked) checked.textContent = checked.dataset.at ? span(secondsSince(checked.dataset.at)) + " ago" : "never";
    document.querySelectorAll("#server-players td[data-joined]").forEach(function (cell) {
      if (cell.dataset.joined) cell.textContent = span(secondsSince(cell.dataset.joined));
    });
  }

  // --- one server's page ------------------------------------------------------------------
  function ServerPage(root) {
    this.root = root;
    this.id = root.dataset.serverId;
    this.last = null;
    var self = this;
    follow("/ws/servers/" + this.id + "/state", function (frame) { self.update(frame); },
      document.getElementById("server-conn"));
  }

  ServerPage.prototype.update = function (f) {
    var prev = this.last;
    this.last = f;
    this.root.dataset.state = f.state;
    this.root.dataset.desired = f.desired_state;
    var badge = setText("server-state", f.state_label);
    badge.className = "badge s-" + f.state;
    badge.dataset.state = f.state;
    var paused = setText("server-paused", f.paused);
    paused.hidden = !f.paused;
    this.showJob(f.job);
    setText("server-map", f.map);
    setText("server-player-count", playerCount(f));
    setText("server-desired", f.desired_label);
    var uptime = document.getElementById("server-uptime");
    uptime.dataset.since = f.since || "";
    uptime.dataset.state = f.state;
    document.getElementById("server-checked").dataset.at = f.checked_at || "";
    this.showPlayers(f.players);
    this.showCrash(f.crash);
    tick();
    if (!prev) return;
    var jobOf = function (frame) { return frame.job ? frame.job.id + frame.job.state : ""; };
    if (prev.state !== f.state || prev.desired_state !== f.desired_state || jobOf(prev) !== jobOf(f)) {
      this.refresh("server-actions");
      this.refresh("recent-jobs");
    }
    if (prev.auto_restart !== f.auto_restart) this.refresh("auto-restart");
  };

  ServerPage.prototype.refresh = function (id) {
    if (window.htmx && document.getElementById(id)) {
      htmx.ajax("GET", "/servers/" + this.id, { target: "#" + id, swap: "outerHTML" });
    }
  };

  ServerPage.prototype.showJob = function (job) {
    var note = document.getElementById("server-job");
    note.textContent = "";
    note.hidden = !job;
    if (!job) return;
    var link = document.createElement("a");
    link.href = "/jobs/" + job.id;
    link.textContent = "Job #" + job.id;
    note.appendChild(link);
    note.appendChild(document.createTextNode(" (" + job.kind + ") is " + job.state + "."));
  };

  ServerPage.prototype.showPlayers = function (players) {
    var body = document.querySelector("#server-players tbody");
    var rows = document.createDocumentFragment();
    players.forEach(function (p) {
      var tr = document.createElement("tr");
      [p.name, String(p.score), ""].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      tr.lastChild.dataset.joined = p.joined || "";
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    document.getElementById("server-players-empty").hidden = players.length > 0;
  };

  ServerPage.prototype.showCrash = function (crash) {
    var card = document.getElementById("server-crash");
    card.hidden = !crash;
    if (!crash) return;
    setText("server-crash-reason", crash.reason_label);
    setText("server-crash-action", crash.action);
    setText("server-crash-detail", crash.detail);
    document.getElementById("server-crash-at").setAttribute("datetime", crash.at);
    if (window.panelTimes) window.panelTimes.refresh(card); // "3 min ago", like every page's times
  };

  // --- the server list ----------------------------------------------------------------------
  function ServerList(table) {
    follow("/ws/servers/state", function (frame) {
      frame.servers.forEach(function (s) {
        var row = table.querySelector('tr[data-server-id="' + s.id + '"]');
        if (!row) return; // a server added since the page loaded shows on the next load
        var field = function (name) { return row.querySelector('[data-field="' + name + '"]'); };
        field("state").textContent = s.state_label;
        field("state").className = "badge s-" + s.state;
        field("desired_state").textContent = s.desired_label;
        field("desired_state").className = "badge s-" + s.desired_state;
        field("map").textContent = s.map;
        field("player_count").textContent = playerCount(s);
        field("players").textContent = s.players.map(function (p) { return p.name; }).join(", ");
      });
    }, null);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.getElementById("server-live");
    if (page) window.serverPage = new ServerPage(page);
    var list = document.getElementById("server-list");
    if (list) window.serverList = new ServerList(list);
    tick();
    setInterval(tick, 1000);
  });
})();
