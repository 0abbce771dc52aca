// Shared helpers for the logged-in pages: API calls with the CSRF token, the UI
// strings, toasts, logout and the notifications bell. Exposed as window.PD.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const strings = JSON.parse(document.getElementById("ui-strings").textContent);
  const who = document.querySelector(".who");

  function str(key, vars) {
    let s = strings[key] || key;
    for (const k in vars || {}) s = s.replace("{" + k + "}", vars[k]);
    return s;
  }

  async function api(method, path, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf } };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch("/api/v1" + path, opts);
    if (res.status === 204) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const msg = data.error ? data.error.message + fieldText(data.error.fields) : res.statusText;
      throw Object.assign(new Error(msg), { status: res.status, response: data });
    }
    return data;
  }

  function fieldText(fields) {
    if (!fields) return "";
    return ": " + Object.entries(fields).map(([k, v]) => k + " " + v).join(", ");
  }

  // toast shows a message for ms milliseconds, with an optional action button.
  function toast(text, ms, action) {
    const box = document.getElementById("toasts");
    const el = document.createElement("div");
    el.className = "toast";
    const span = document.createElement("span");
    span.textContent = text;
    el.appendChild(span);
    if (action) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = action.label;
      b.addEventListener("click", () => { close(); action.run(); });
      el.appendChild(b);
    }
    box.appendChild(el);
    const timer = setTimeout(close, ms || 4000);
    function close() { clearTimeout(timer); el.remove(); }
    return { el, span, close };
  }

  function fail(err) { toast(str("error") + ": " + err.message, 6000); }

  // Times: datetime-local inputs speak browser-local time; the API speaks UTC.
  function toLocalInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function fromLocalInput(v) { return v ? new Date(v).toISOString() : null; }

  // swap replaces target's content with a server-rendered fragment. When refreshes
  // overlap, only the latest one lands, so a slow response never undoes a newer one.
  const swapSeq = new WeakMap();
  async function swap(url, target) {
    const n = (swapSeq.get(target) || 0) + 1;
    swapSeq.set(target, n);
    const res = await fetch(url, { headers: { "HX-Request": "true" } });
    if (res.status === 401) { window.location.assign("/login"); return; }
    const html = await res.text();
    if (swapSeq.get(target) !== n) return;
    target.innerHTML = html;
    if (window.htmx) htmx.process(target);
    target.dispatchEvent(new CustomEvent("pd:swapped", { bubbles: true }));
  }

  window.PD = { api, str, toast, fail, csrf, toLocalInput, fromLocalInput, swap,
    agentId: who ? Number(who.dataset.agentId) : 0 };

  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", async () => {
    await api("POST", "/auth/logout").catch(() => {});
    window.location.assign("/login");
  });

  // The bell lists notifications; live.js bumps the count as they arrive.
  const bell = document.getElementById("bell");
  const list = document.getElementById("bell-list");
  const count = document.getElementById("bell-count");
  async function loadNotifications() {
    let items = [];
    try { items = (await api("GET", "/notifications")).items || []; } catch (_) { items = []; }
    list.replaceChildren();
    const ul = document.createElement("ul");
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = str("notifications_none");
      ul.appendChild(li);
    }
    let unread = 0;
    for (const n of items) {
      const li = document.createElement("li");
      if (!n.read_at) { li.className = "unread"; unread++; }
      const a = document.createElement(n.ticket_id ? "a" : "span");
      if (n.ticket_id) a.href = "/tickets/" + n.ticket_id;
      const d = n.data || {};
      a.textContent = str("notify." + n.kind) + (d.subject ? ": " + d.subject : "");
      li.appendChild(a);
      ul.appendChild(li);
    }
    list.appendChild(ul);
    setCount(unread);
    return items;
  }
  function setCount(n) {
    count.textContent = String(n);
    count.hidden = n === 0;
  }
  if (bell) {
    bell.addEventListener("click", async () => {
      const open = list.hidden;
      list.hidden = !open;
      bell.setAttribute("aria-expanded", String(open));
      if (open) {
        const items = await loadNotifications();
        if (items.some((n) => !n.read_at)) api("POST", "/notifications/read-all").then(() => setCount(0)).catch(() => {});
      }
    });
    document.addEventListener("click", (e) => {
      if (!list.hidden && !e.target.closest(".bell")) { list.hidden = true; bell.setAttribute("aria-expanded", "false"); }
    });
    loadNotifications();
  }
  PD.bumpNotifications = () => setCount(Number(count.textContent || 0) + 1);
})();
