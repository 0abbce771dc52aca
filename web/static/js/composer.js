// The composer: reply or internal note, from-mailbox, templates with variables
// filled for this ticket, attachments by drag and drop, send later, and an Undo
// toast for the agent's undo window.
(function () {
  "use strict";
  let uploads = [];
  // waTemplates is set when the ticket's WhatsApp window is closed: replies are
  // then an approved template (chosen in the picker) instead of free text.
  let waTemplates = null;

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

  // The ticket's messenger tells whether free text may still be sent; when not,
  // the picker of approved templates replaces the text area.
  async function loadMessenger(f) {
    waTemplates = null;
    if (!f.dataset.messenger) return;
    let m;
    try { m = await PD.api("GET", "/tickets/" + f.dataset.ticketId + "/messenger"); } catch (_) { return; }
    if (!m.template_required) return;
    waTemplates = m.templates || [];
    const box = f.querySelector("#wa-template");
    const sel = box.querySelector("#wa-template-pick");
    waTemplates.forEach((t, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = t.name + " (" + t.language + ")";
      sel.appendChild(o);
    });
    const err = box.querySelector("#wa-template-error");
    if (!waTemplates.length) {
      err.textContent = PD.str("wa_no_templates", { reason: m.templates_error || "-" });
      err.hidden = false;
    }
    layout(f);
  }

  // With the window closed, a reply through the chat is a template; a note, or a
  // reply by mail (the From choice), is free text as usual.
  function layout(f) {
    if (!waTemplates) return;
    const byMail = f.elements.mailbox_id && f.elements.mailbox_id.value;
    const template = f.dataset.mode === "reply" && !byMail;
    f.querySelector("#wa-template").hidden = !template;
    f.elements.body.hidden = template;
    f.elements.body.required = !template;
    f.querySelector("#drop").hidden = template;
  }

  function pickedTemplate(f) {
    const v = f.querySelector("#wa-template-pick").value;
    return v === "" || !waTemplates ? null : waTemplates[Number(v)];
  }

  // A template's {{n}} placeholders get one input each; the preview shows the
  // text the customer will read, which is also what the thread keeps.
  function showTemplate(f) {
    const t = pickedTemplate(f);
    const params = f.querySelector("#wa-template-params");
    params.textContent = "";
    for (let i = 1; t && i <= t.params; i++) {
      const l = document.createElement("label");
      l.textContent = PD.str("wa_param", { n: i }) + " ";
      const inp = document.createElement("input");
      inp.className = "wa-param";
      inp.required = true;
      l.appendChild(inp);
      params.appendChild(l);
    }
    renderTemplate(f);
  }

  function renderTemplate(f) {
    const t = pickedTemplate(f);
    const vals = Array.from(f.querySelectorAll(".wa-param")).map((i) => i.value);
    const text = t ? (t.body || t.name).replace(/\{\{\s*(\d+)\s*\}\}/g, (m, n) => vals[n - 1] || m) : "";
    f.querySelector("#wa-template-preview").textContent = text;
    return { t, vals, text };
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
    let body = f.elements.body.value;
    let template = null;
    const byMail = f.elements.mailbox_id && f.elements.mailbox_id.value;
    if (mode === "reply" && waTemplates && !byMail) {
      const r = renderTemplate(f);
      if (!r.t) { f.querySelector("#wa-template-pick").focus(); return; }
      if (r.vals.some((v) => !v.trim())) { f.querySelector(".wa-param").reportValidity(); return; }
      template = { name: r.t.name, language: r.t.language, params: r.vals };
      body = r.text;
    }
    if (!body.trim()) return;
    const payload = { type: mode, body };
    if (template) payload.messenger_template = template;
    if (mode === "reply") {
      // On a chat ticket the first choice is the chat itself (no mailbox).
      if (f.elements.mailbox_id && f.elements.mailbox_id.value) payload.mailbox_id = Number(f.elements.mailbox_id.value);
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
    if (!template) f.elements.body.value = "";
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
    loadMessenger(f);
    f.addEventListener("change", (e) => {
      if (e.target.name === "mode") f.dataset.mode = e.target.value;
      if (e.target.name === "mode" || e.target.name === "mailbox_id") layout(f);
      if (e.target.id === "wa-template-pick") showTemplate(f);
      if (e.target.id === "composer-template") applyTemplate(f, e.target.value);
      if (e.target.id === "composer-files") upload(f, e.target.files);
    });
    f.addEventListener("input", (e) => { if (e.target.classList.contains("wa-param")) renderTemplate(f); });
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
