// The ticket pane: side-panel changes, checklist, snooze, outbound message
// actions, "Create task", presence, countdowns and sizing of mail frames. Every
// change goes through the JSON API; the pane is then re-rendered by the server.
(function () {
  "use strict";
  const pane = document.getElementById("ticket");
  if (!pane) return;

  function root() { return pane.querySelector(".ticket"); }
  function tid() { const r = root(); return r ? Number(r.dataset.ticketId) : 0; }

  function reload() {
    const id = tid();
    if (!id) return Promise.resolve();
    return PD.swap("/ui/tickets/" + id, pane);
  }
  // Live updates re-render the pane, but never under the agent's fingers: while
  // they are typing into a field of the pane the refresh waits. A focused side
  // field (checklist, tags) counts even before its first key, which a re-render
  // would swallow with the field; the composer counts once it holds text, so a
  // reply sent with Ctrl+Enter still shows its state.
  let soon;
  function typing() {
    const el = document.activeElement;
    if (!el || !pane.contains(el) || !(el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text"))) return false;
    return el.value !== "" || el.id !== "composer-body";
  }
  function reloadSoon() {
    clearTimeout(soon);
    soon = setTimeout(() => {
      const body = document.getElementById("composer-body");
      if (typing() || (body && body.value.trim() !== "")) { reloadSoon(); return; }
      reload();
    }, 300);
  }
  async function change(method, path, payload, okText) {
    try {
      const out = await PD.api(method, path, payload);
      if (okText) PD.toast(okText, 2500);
      await reload();
      if (PD.refreshLists) PD.refreshLists();
      return out;
    } catch (err) {
      PD.fail(err);
      throw err;
    }
  }
  function patch(fields) { return change("PATCH", "/tickets/" + tid(), fields, PD.str("saved")); }

  PD.ticket = { reload, reloadSoon, change, patch, id: tid, setStatus: (s) => tid() && patch({ status: s }) };

  // Side panel fields save on change.
  pane.addEventListener("change", (e) => {
    const el = e.target;
    if (!el.closest("#ticket-form")) return;
    const f = {};
    switch (el.name) {
      case "assignee_id": f.assignee_id = el.value ? Number(el.value) : null; break;
      case "tags": f.tags = el.value.split(",").map((s) => s.trim()).filter(Boolean); break;
      case "due_at": f.due_at = PD.fromLocalInput(el.value); break;
      default: f[el.name] = el.value;
    }
    patch(f).catch(() => {});
  });

  // Checklist: add, tick.
  pane.addEventListener("submit", (e) => {
    if (e.target.id === "checklist-add") {
      e.preventDefault();
      const input = e.target.elements.text;
      change("POST", "/tickets/" + tid() + "/checklist", { text: input.value }).then(() => {
        const again = document.getElementById("cl-new");
        if (again) again.focus();
      }).catch(() => {});
    }
    if (e.target.id === "spawn-form") {
      e.preventDefault();
      const f = e.target.elements;
      const body = { channel_id: Number(f.channel_id.value) };
      if (f.subject.value) body.subject = f.subject.value;
      if (f.due_at.value) body.due_at = PD.fromLocalInput(f.due_at.value);
      e.target.closest("dialog").close();
      change("POST", "/messages/" + f.message_id.value + "/spawn-task", body, PD.str("task_created")).catch(() => {});
    }
  });
  pane.addEventListener("change", (e) => {
    if (e.target.dataset.action !== "tick") return;
    const item = e.target.closest("[data-item-id]").dataset.itemId;
    change("PATCH", "/tickets/" + tid() + "/checklist/" + item, { done: e.target.checked }).catch(() => {});
  });

  // Buttons: snooze presets, wake, message actions, spawn dialog.
  pane.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.dataset.snooze) return snooze(b.dataset.snooze);
    switch (b.dataset.action) {
      case "wake": return change("DELETE", "/tickets/" + tid() + "/snooze").catch(() => {});
      case "cancel-message": return change("POST", "/messages/" + b.dataset.id + "/cancel", undefined, PD.str("canceled")).catch(() => {});
      case "send-now": return change("POST", "/messages/" + b.dataset.id + "/send-now").catch(() => {});
      case "spawn-task": {
        const d = document.getElementById("spawn-dialog");
        d.querySelector("[name=message_id]").value = b.dataset.id;
        d.showModal();
        return;
      }
    }
    if (b.hasAttribute("data-close")) b.closest("dialog").close();
  });

  function snooze(preset) {
    const now = new Date();
    let until = new Date(now);
    switch (preset) {
      case "later": until.setHours(now.getHours() + 3, 0, 0, 0); break;
      case "tomorrow": until.setDate(now.getDate() + 1); until.setHours(9, 0, 0, 0); break;
      case "week": until.setDate(now.getDate() + ((8 - now.getDay()) % 7 || 7)); until.setHours(9, 0, 0, 0); break;
      case "custom": {
        const v = document.getElementById("sn-custom").value;
        if (!v) { document.getElementById("sn-custom").focus(); return; }
        until = new Date(v);
      }
    }
    const wake = document.getElementById("sn-wake").checked;
    change("POST", "/tickets/" + tid() + "/snooze", { until: until.toISOString(), wake_on_reply: wake }, PD.str("saved"))
      .then(() => { if (window.matchMedia("(max-width: 760px)").matches) location.assign("/"); })
      .catch(() => {});
  }

  // Presence: announce while the ticket is open; others appear in the header.
  const present = new Map();
  let presenceTimer, myState = "viewing", lastTicket = 0;
  function announce(state) {
    const id = tid();
    if (!id) return;
    myState = state;
    PD.api("POST", "/tickets/" + id + "/presence", { state }).then((r) => {
      present.clear();
      for (const p of r.items || []) present.set(p.agent_id, p);
      showPresence();
    }).catch(() => {});
  }
  function showPresence() {
    const el = document.getElementById("presence");
    if (!el) return;
    el.textContent = Array.from(present.values())
      .map((p) => PD.str(p.state === "replying" ? "replying" : "viewing", { name: p.name })).join(" · ");
  }
  document.addEventListener("pd:live", (e) => {
    const ev = e.detail;
    if (ev.kind !== "presence" || ev.ticket_id !== tid() || ev.agent_id === PD.agentId) return;
    if (ev.data.state === "left") present.delete(ev.agent_id);
    else present.set(ev.agent_id, { agent_id: ev.agent_id, name: ev.data.name, state: ev.data.state });
    showPresence();
  });
  function leave(id) {
    if (!id) return;
    fetch("/api/v1/tickets/" + id + "/presence", { method: "POST", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": PD.csrf }, body: JSON.stringify({ state: "left" }) });
  }
  window.addEventListener("pagehide", () => leave(tid()));
  pane.addEventListener("focusin", (e) => { if (e.target.id === "composer-body" && myState !== "replying") announce("replying"); });
  pane.addEventListener("focusout", (e) => { if (e.target.id === "composer-body" && !e.target.value) announce("viewing"); });

  // Reorder the checklist by drag and drop (SortableJS, loaded on demand).
  function sortableChecklist() {
    const list = document.getElementById("checklist");
    if (!list || !window.Sortable) return;
    Sortable.create(list, { handle: ".grip", animation: 120, onEnd: (ev) => {
      if (ev.oldIndex === ev.newIndex) return;
      // Positions are numbers with gaps: the moved item takes the midpoint of
      // its new neighbours, so one PATCH reorders the list.
      const pos = (el) => (el ? Number(el.dataset.position) : null);
      const item = list.children[ev.newIndex];
      const before = pos(item.previousElementSibling), after = pos(item.nextElementSibling);
      let p;
      if (before === null) p = after - 1024;
      else if (after === null) p = before + 1024;
      else p = (before + after) / 2;
      change("PATCH", "/tickets/" + tid() + "/checklist/" + item.dataset.itemId, { position: p }).catch(() => {});
    } });
  }

  // Each (re)render: local times, countdowns, frames, presence on a new ticket.
  function init() {
    const r = root();
    if (!r) return;
    for (const el of r.querySelectorAll("input[data-utc]")) el.value = PD.toLocalInput(el.dataset.utc);
    for (const f of r.querySelectorAll("iframe.mail-html")) {
      const fit = () => { try { f.style.height = f.contentDocument.documentElement.scrollHeight + 8 + "px"; } catch (_) { /* cross-origin */ } };
      f.addEventListener("load", fit);
      fit();
    }
    if (tid() !== lastTicket) {
      leave(lastTicket);
      lastTicket = tid();
      present.clear();
      announce("viewing");
      clearInterval(presenceTimer);
      presenceTimer = setInterval(() => announce(myState), 15000);
    } else showPresence();
    sortableChecklist();
    if (PD.composer) PD.composer.init();
  }
  setInterval(() => {
    for (const el of document.querySelectorAll(".countdown[data-send-at]")) {
      const s = Math.max(0, Math.round((new Date(el.dataset.sendAt) - Date.now()) / 1000));
      el.textContent = s > 3600 ? new Date(el.dataset.sendAt).toLocaleString() : (s >= 60 ? Math.floor(s / 60) + "m " : "") + (s % 60) + "s";
      if (s === 0) reloadSoon();
    }
  }, 1000);
  document.body.addEventListener("htmx:afterSwap", (e) => { if (e.detail.target === pane) init(); });
  pane.addEventListener("pd:swapped", (e) => { if (e.target === pane) init(); });
  document.addEventListener("DOMContentLoaded", init);
  if (document.readyState !== "loading") init();
})();
