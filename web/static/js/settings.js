// Settings forms save through the JSON API. A form names its call with
// data-method and data-path, and may start from data-base (JSON the form's fields
// are merged into). Fields convert by type (checkbox → boolean, data-json="int"/
// "nullint" → number or null, "json" → parsed (empty: null), "secret" → sent only
// when typed, members → [{agent_id, role}]); a dotted name ("credentials.bot_token")
// nests.
(function () {
  "use strict";
  function put(out, name, value) {
    const path = name.split(".");
    let o = out;
    for (const k of path.slice(0, -1)) o = (o[k] = o[k] && typeof o[k] === "object" ? o[k] : {});
    o[path[path.length - 1]] = value;
  }

  function payload(form) {
    const out = form.dataset.base ? JSON.parse(form.dataset.base) : {};
    let members = null;
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if (el.name === "members") {
        members = members || [];
        if (el.checked) members.push({ agent_id: Number(el.value), role: el.dataset.role || "member" });
        continue;
      }
      if (el.type === "checkbox") { put(out, el.name, el.checked); continue; }
      const kind = el.dataset.json;
      if (kind === "int") put(out, el.name, Number(el.value));
      else if (kind === "nullint") put(out, el.name, el.value === "" ? null : Number(el.value));
      else if (kind === "secret") { if (el.value !== "") put(out, el.name, el.value); }
      else if (kind === "json") put(out, el.name, el.value.trim() === "" ? null : JSON.parse(el.value));
      else if (el.type === "password" || el.value !== "" || form.dataset.method === "PATCH") put(out, el.name, el.value);
    }
    if (members) out.members = members;
    return out;
  }

  // A new connection's form shows the fields of the chosen provider only; the
  // others are disabled so they are not sent.
  function pickProvider(sel) {
    const form = sel.form;
    for (const label of form.querySelectorAll("[data-for]")) {
      const on = label.dataset.for === sel.value;
      label.hidden = !on;
      for (const el of label.querySelectorAll("input, select, textarea")) el.disabled = !on;
    }
  }
  for (const sel of document.querySelectorAll("select[data-provider-pick]")) pickProvider(sel);
  document.addEventListener("change", (e) => {
    if (e.target.matches("select[data-provider-pick]")) pickProvider(e.target);
  });

  // A reload keeps the channel the admin was working in open: its id goes into
  // the address's fragment, and the page opens the section the fragment names.
  function reloadAt(el) {
    const box = el.closest("details[id]");
    if (box) history.replaceState(null, "", "#" + box.id);
    setTimeout(() => location.reload(), 400);
  }
  if (location.hash) {
    const box = document.getElementById(location.hash.slice(1));
    if (box && box.tagName === "DETAILS") box.open = true;
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target.closest(".api-form");
    if (!form) return;
    e.preventDefault();
    try {
      let body;
      try { body = payload(form); } catch (err) { PD.fail(err); return; }
      await PD.api(form.dataset.method, form.dataset.path, body);
      PD.toast(PD.str("saved"), 2500);
      if (form.hasAttribute("data-reload")) reloadAt(form);
    } catch (err) { PD.fail(err); }
  });

  document.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-test]");
    if (!b) return;
    const out = b.parentElement.querySelector(".test-result");
    out.textContent = "…";
    out.className = "test-result muted";
    try {
      const r = await PD.api("POST", b.dataset.test);
      const good = r && (r.ok === true || r.status === "ok" || (b.dataset.ok && r[b.dataset.ok]));
      out.textContent = good ? PD.str("test_ok") : (r && (r.error || r.message)) || JSON.stringify(r);
      out.className = "test-result " + (good ? "opens" : "error");
    } catch (err) {
      out.textContent = err.message;
      out.className = "test-result error";
    }
  });

  // Edit rows open under their connection; delete asks once more on the button
  // itself (no modal dialog) before it calls the API.
  document.addEventListener("click", async (e) => {
    const t = e.target.closest("button[data-toggle]");
    if (t) {
      const row = document.getElementById(t.dataset.toggle);
      if (row) row.hidden = !row.hidden;
      return;
    }
    const d = e.target.closest("button[data-delete]");
    if (!d) return;
    if (!d.dataset.armed) {
      d.dataset.armed = "1";
      d.textContent = d.dataset.confirm;
      return;
    }
    try {
      await PD.api("DELETE", d.dataset.delete);
      reloadAt(d);
    } catch (err) { PD.fail(err); }
  });

  // Templates are listed from the API (the outbound area owns them).
  const rows = document.getElementById("template-rows");
  if (rows) PD.api("GET", "/templates").then((r) => {
    for (const t of r.items || []) {
      const tr = document.createElement("tr");
      for (const v of [t.name, t.subject || "", (t.body || "").slice(0, 80)]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
  }).catch(() => {});
})();
