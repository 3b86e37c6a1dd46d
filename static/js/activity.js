// The live activity page: the server's newest events come as state frames over a WebSocket
// (activity/live.py); those this page does not show yet are added in order of id, built
// like templates/activity/_event_row.html, with textContent only (commands, names and
// schedule names are other people's text).
(function () {
  "use strict";

  var MAX_ROWS = 500; // a page left open for days keeps its newest rows only

  var follow = window.L4D2.followState; // static/js/statesocket.js

  // The page's filters, as the server applies them (servers/activity_views.py).
  function matches(event, person, action) {
    if (person && event.actor.toLowerCase() !== person.toLowerCase()) return false;
    if (!action) return true;
    return action.charAt(action.length - 1) === "." ? event.action.indexOf(action) === 0 : event.action === action;
  }

  function cell(tr, className, label, text) {
    var td = document.createElement("td");
    td.className = className;
    if (label) td.dataset.label = label;
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function row(event) {
    var tr = document.createElement("tr");
    tr.id = "event-" + event.id;
    tr.dataset.eventId = event.id;
    tr.className = "fresh";
    var time = document.createElement("time");
    time.setAttribute("datetime", event.at);
    time.setAttribute("data-rel", "");
    time.textContent = event.at;
    cell(tr, "c-when").appendChild(time);
    cell(tr, "c-who", "by", event.who);
    cell(tr, "c-via", "via", event.via_label);
    cell(tr, "c-action", "", event.words);
    var detail = cell(tr, "c-detail");
    if (event.link) {
      var a = document.createElement("a");
      a.href = event.link;
      a.textContent = event.summary;
      detail.appendChild(a);
    } else {
      detail.textContent = event.summary;
    }
    cell(tr, "c-ip", "from", event.ip || "—");
    return tr;
  }

  function ActivityPage(table) {
    var body = table.querySelector("tbody");
    var empty = document.getElementById("activity-empty");
    var floor = Number(table.dataset.floor) || 0;
    var person = table.dataset.person || "", action = table.dataset.action || "";
    follow(table.dataset.wsPath, function (frame) {
      var added = [];
      // Oldest first, each before the first row older than it: newest first, even for an
      // event that committed after a newer one.
      frame.events.slice().reverse().forEach(function (event) {
        if (event.id <= floor || document.getElementById("event-" + event.id)) return;
        if (!matches(event, person, action)) return;
        var before = null;
        for (var i = 0; i < body.children.length; i++) {
          if (Number(body.children[i].dataset.eventId) < event.id) { before = body.children[i]; break; }
        }
        var tr = row(event);
        body.insertBefore(tr, before);
        added.push(tr);
      });
      if (!added.length) return;
      while (body.children.length > MAX_ROWS) body.removeChild(body.lastElementChild);
      if (empty) empty.hidden = true;
      if (window.panelTimes) window.panelTimes.refresh(body); // "just now", like every page's times
      setTimeout(function () { added.forEach(function (tr) { tr.classList.add("settled"); }); }, 50);
    }, document.getElementById("activity-conn"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("activity");
    if (table && table.dataset.wsPath) window.activityPage = new ActivityPage(table);
  });
})();
