// vpsd's browser console: connects a terminal (xterm.js) to GET /v1/vps/ID/console upgraded
// to a WebSocket. The token is offered as the subprotocol "vps.token.TOKEN" beside
// "vps.console" (a browser cannot set Authorization on a WebSocket, and a URL would put the
// token in logs); the server answers with "vps.console" alone.
'use strict';
(function () {
  const status = document.getElementById('status');
  const form = document.getElementById('login');
  const input = document.getElementById('token');
  const id = decodeURIComponent(location.pathname.split('/').pop());

  function fragmentToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : '';
  }

  function say(text) {
    status.textContent = text; // text, never HTML
  }

  function connect(token) {
    // The token leaves the address bar and the history.
    history.replaceState(null, '', location.pathname);
    form.hidden = true;
    if (typeof Terminal !== 'function') {
      say('xterm.js is missing on this server');
      return;
    }
    const term = new Terminal({ cursorBlink: true, scrollback: 2000 });
    term.open(document.getElementById('terminal'));
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(scheme + '//' + location.host + '/v1/vps/' + encodeURIComponent(id) +
                         '/console', ['vps.console', 'vps.token.' + token]);
    } catch (e) {
      say('bad token: ' + e.message);
      form.hidden = false;
      return;
    }
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    ws.onopen = function () {
      say('connected to the console of VPS ' + id);
      document.body.dataset.state = 'open';
      term.focus();
    };
    ws.onmessage = function (e) {
      term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
    };
    ws.onclose = function (e) {
      say('disconnected from VPS ' + id + ' (' + e.code + ')');
      document.body.dataset.state = 'closed';
    };
    term.onData(function (d) {
      if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    connect(input.value.trim());
  });
  const t = fragmentToken();
  if (t) connect(t);
  else {
    say('VPS ' + id + ': a token with the console verb is needed');
    form.hidden = false;
    input.focus();
  }
})();
