// Postdesk web chat widget. Embed with one tag:
//   <script src="https://desk.example.com/widget.js" data-connection="12" async></script>
// It talks to /hooks/webchat/{connection}/... on the host it was loaded from. Bodies
// go as text/plain and the visitor token travels in the body or query, so the
// browser sends plain cross-origin requests without a preflight.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.connection) return;
  var base = new URL(script.src).origin + "/hooks/webchat/" + encodeURIComponent(script.dataset.connection);
  var storeKey = "postdesk_chat_" + script.dataset.connection;
  var state = { token: localStorage.getItem(storeKey) || "", last: 0, online: true, events: null, seen: {} };

  var host = document.createElement("div");
  host.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{font:14px/1.4 system-ui,sans-serif;color:#1f2328}" +
    "button{font:inherit;cursor:pointer}" +
    ".open{border:0;border-radius:24px;padding:10px 16px;background:#2563eb;color:#fff;box-shadow:0 2px 8px #0003}" +
    ".panel{display:none;flex-direction:column;width:320px;height:420px;background:#fff;border-radius:10px;" +
    "box-shadow:0 4px 20px #0004;overflow:hidden}" +
    ".panel.shown{display:flex}" +
    "header{padding:10px 12px;background:#2563eb;color:#fff;display:flex;justify-content:space-between}" +
    "header button{background:none;border:0;color:#fff}" +
    ".log{flex:1;overflow-y:auto;padding:8px;background:#f6f8fa}" +
    ".msg{max-width:80%;margin:4px 0;padding:6px 10px;border-radius:8px;white-space:pre-wrap;word-wrap:break-word}" +
    ".visitor{margin-left:auto;background:#2563eb;color:#fff}.agent{background:#fff;border:1px solid #d0d7de}" +
    ".note{font-size:12px;color:#57606a;padding:6px 8px}" +
    "form{display:flex;border-top:1px solid #d0d7de}" +
    "input{flex:1;border:0;padding:10px;font:inherit;outline:none}" +
    "form button{border:0;background:none;color:#2563eb;padding:0 12px}" +
    ".hidden{display:none}" +
    "</style>" +
    "<button class='open' part='button'>Chat with us</button>" +
    "<div class='panel' role='dialog' aria-label='Chat'>" +
    "<header><span class='title'>Chat</span><button class='close' aria-label='Close'>×</button></header>" +
    "<div class='log' aria-live='polite'></div>" +
    "<div class='note offline hidden'>No one is online right now. Leave your e-mail and we will answer by mail.</div>" +
    "<form class='email hidden'><input type='email' placeholder='you@example.com' required aria-label='E-mail'>" +
    "<button>Save</button></form>" +
    "<form class='send'><input placeholder='Type a message…' maxlength='4000' aria-label='Message'>" +
    "<button>Send</button></form></div>";
  var $ = function (sel) { return root.querySelector(sel); };
  var panel = $(".panel"), log = $(".log");

  function post(path, body) {
    body.token = state.token;
    return fetch(base + path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body) })
      .then(function (r) { return r.status === 204 ? {} : r.json().then(function (j) { if (!r.ok) throw j; return j; }); });
  }

  function note(text) {
    var el = document.createElement("div");
    el.className = "note";
    el.textContent = text;
    log.appendChild(el);
  }

  function show(m) {
    if (state.seen[m.id]) return;
    state.seen[m.id] = true;
    state.last = Math.max(state.last, m.id);
    var el = document.createElement("div");
    el.className = "msg " + (m.from === "agent" ? "agent" : "visitor");
    el.textContent = m.text;
    log.appendChild(el);
    log.scrollTop = log.scrollHeight;
  }

  function presence(online) {
    state.online = online;
    $(".offline").classList.toggle("hidden", online);
    $(".email").classList.toggle("hidden", online);
  }

  function listen() {
    if (state.events) state.events.close();
    var url = base + "/events?token=" + encodeURIComponent(state.token) + "&after=" + state.last;
    state.events = new EventSource(url);
    state.events.addEventListener("message", function (e) { show(JSON.parse(e.data)); });
    state.events.addEventListener("presence", function (e) { presence(JSON.parse(e.data).agents_online); });
  }

  function start() {
    return post("/session", {}).then(function (s) {
      state.token = s.token;
      localStorage.setItem(storeKey, s.token);
      $(".title").textContent = s.title || "Chat";
      if (s.greeting && !log.childElementCount) note(s.greeting);
      presence(s.agents_online);
      listen();
    });
  }

  $(".open").addEventListener("click", function () {
    panel.classList.add("shown");
    $(".open").classList.add("hidden");
    if (!state.events) start().catch(function () { note("Chat is unavailable right now."); });
    $(".send input").focus();
  });
  $(".close").addEventListener("click", function () {
    panel.classList.remove("shown");
    $(".open").classList.remove("hidden");
  });
  $(".send").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $(".send input"), text = input.value.trim();
    if (!text) return;
    input.value = "";
    var clientID = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    post("/messages", { text: text, client_id: clientID }).then(function (m) { if (m.id) show(m); })
      .catch(function () { note("Not sent. Please try again."); input.value = text; });
  });
  $(".email").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $(".email input");
    post("/email", { email: input.value }).then(function () {
      $(".email").classList.add("hidden");
      note("Thanks! We will reply to " + input.value + ".");
    }).catch(function () { note("That address does not look right."); });
  });
  document.body.appendChild(host);
})();
