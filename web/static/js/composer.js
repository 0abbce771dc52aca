// The composer: reply or internal note, from-mailbox, templates with variables
// filled for this ticket, attachments by drag and drop, send later, and an Undo
// toast for the agent's undo window.
(function () {
  "use strict";
  let uploads = [];

  function form() { return document.getElementById("composer"); }

  async function loadTemplates(f) {
    const sel = f.querySelector("#composer-template");
    if (!sel || sel.dataset.loaded) return;
    sel.dataset.loaded = "1";
    try {
      const res = await PD.api("GET", "/templates?channel_id=" + f.dataset.channelId);
      for (const t of res.items || []) {
        const o = document.createElement("option");
        o.value = t.id;
        o.textContent = t.name;
        sel.appendChild(o);
      }
    } catch (_) { /* templates unavailable: the picker stays empty */ }
  }

  async function applyTemplate(f, id) {
    if (!id) return;
    try {
      const p = await PD.api("POST", "/templates/" + id + "/preview", { ticket_id: Number(f.dataset.ticketId) });
      f.elements.body.value = p.body;
      f.elements.body.focus();
    } catch (err) { PD.fail(err); }
  }

  async function upload(f, files) {
    const list = f.querySelector("#uploads");
    for (const file of files) {
      const li = document.createElement("li");
      li.textContent = file.name + " — " + PD.str("uploading");
      list.appendChild(li);
      const fd = new FormData();
      fd.append("file", file);
      fd.append("channel_id", f.dataset.channelId);
      try {
        const a = await PD.api("POST", "/attachments", fd);
        uploads.push(a.id);
        li.textContent = "📎 " + file.name;
      } catch (err) {
        li.textContent = file.name + ": " + err.message;
        li.className = "error";
      }
    }
  }

  async function submit(f) {
    const mode = f.dataset.mode;
    const body = f.elements.body.value;
    if (!body.trim()) return;
    const payload = { type: mode, body };
    if (mode === "reply") {
      if (f.elements.mailbox_id) payload.mailbox_id = Number(f.elements.mailbox_id.value);
      if (f.elements.template_id.value) payload.template_id = Number(f.elements.template_id.value);
      if (f.elements.send_at.value) payload.send_at = PD.fromLocalInput(f.elements.send_at.value);
    }
    if (uploads.length) payload.attachment_ids = uploads;
    const btn = f.querySelector("#composer-send");
    btn.disabled = true;
    let m;
    try {
      m = await PD.api("POST", "/tickets/" + f.dataset.ticketId + "/messages", payload);
    } catch (err) {
      btn.disabled = false;
      PD.fail(err);
      return;
    }
    uploads = [];
    f.elements.body.value = "";
    await PD.ticket.reload();
    if (PD.refreshLists) PD.refreshLists();
    if (mode === "note") { PD.toast(PD.str("note_added"), 2500); return; }
    undoToast(m, body);
  }

  // The reply waits for its send_at (queued for the agent's undo window, or
  // scheduled for a later time they chose); Undo cancels it and puts the text back.
  function undoToast(m, body) {
    const left = () => Math.max(0, Math.round((new Date(m.send_at) - Date.now()) / 1000));
    if (!m.send_at || left() === 0 || (m.status !== "queued" && m.status !== "scheduled")) { PD.toast(PD.str("sent"), 2500); return; }
    const t = PD.toast(PD.str("sent_in", { n: left() }), left() * 1000 + 500, { label: PD.str("undo"), run: async () => {
      clearInterval(tick);
      try {
        await PD.api("POST", "/messages/" + m.id + "/cancel");
      } catch (err) { PD.fail(err); return; }
      await PD.ticket.reload();
      const f = form();
      if (f) { f.elements.body.value = body; f.elements.body.focus(); }
      PD.toast(PD.str("canceled"), 3000);
    } });
    const tick = setInterval(() => {
      t.span.textContent = PD.str("sent_in", { n: left() });
      if (left() === 0) { clearInterval(tick); setTimeout(() => PD.ticket.reloadSoon(), 1500); }
    }, 500);
  }

  function init() {
    const f = form();
    if (!f || f.dataset.ready) return;
    f.dataset.ready = "1";
    uploads = [];
    loadTemplates(f);
    f.addEventListener("change", (e) => {
      if (e.target.name === "mode") f.dataset.mode = e.target.value;
      if (e.target.id === "composer-template") applyTemplate(f, e.target.value);
      if (e.target.id === "composer-files") upload(f, e.target.files);
    });
    f.addEventListener("submit", (e) => { e.preventDefault(); submit(f); });
    f.elements.body.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(f); }
    });
    const drop = f.querySelector("#drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      upload(f, e.dataTransfer.files);
    });
  }
  PD.composer = { init };
})();
