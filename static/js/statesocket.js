// A state-only WebSocket that comes back after a drop: the server page, the server list and
// the activity page follow their `state` frames through it (window.L4D2.followState).
(function () {
  "use strict";

  function followState(path, onState, conn) {
    var retry = 0;
    function setConn(text, state) { if (conn) { conn.textContent = text; conn.dataset.conn = state || text; } }
    function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      setConn("connecting…");
      socket.onopen = function () { retry = 0; setConn("live"); };
      socket.onmessage = function (e) {
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        if (msg.type === "state") onState(msg);
      };
      socket.onclose = function (e) {
        if (e.code === 4403) { setConn("not allowed"); return; }
        if (e.code === 4429) {
          // Too many live views open for this user (l4d2site/socket_budget.py): say so, try again slowly.
          setConn("too many live views open: close some tabs (retrying every 30 s)", "too many");
          setTimeout(open, 30000);
          return;
        }
        setConn("reconnecting…");
        setTimeout(open, Math.min(10000, 500 * Math.pow(2, retry++)));
      };
    }
    open();
  }

  window.L4D2 = window.L4D2 || {};
  window.L4D2.followState = followState;
})();
