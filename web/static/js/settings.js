// Settings forms save through the JSON API. A form names its call with
// data-method and data-path; fields convert by type (checkbox → boolean,
// data-json="int"/"nullint" → number or null, members → [{agent_id, role}]).
(function () {
  "use strict";
  function payload(form) {
    const out = {};
    let members = null;
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if (el.name === "members") {
        members = members || [];
        if (el.checked) members.push({ agent_id: Number(el.value), role: el.dataset.role || "member" });
        continue;
      }
      if (el.type === "checkbox") { out[el.name] = el.checked; continue; }
      const kind = el.dataset.json;
      if (kind === "int") out[el.name] = Number(el.value);
      else if (kind === "nullint") out[el.name] = el.value === "" ? null : Number(el.value);
      else if (el.type === "password" || el.value !== "" || form.dataset.method === "PATCH") out[el.name] = el.value;
    }
    if (members) out.members = members;
    return out;
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target.closest(".api-form");
    if (!form) return;
    e.preventDefault();
    try {
      await PD.api(form.dataset.method, form.dataset.path, payload(form));
      PD.toast(PD.str("saved"), 2500);
      if (form.hasAttribute("data-reload")) setTimeout(() => location.reload(), 400);
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
      const good = r && (r.ok === true || r.status === "ok");
      out.textContent = good ? PD.str("test_ok") : (r && (r.error || r.message)) || JSON.stringify(r);
      out.className = "test-result " + (good ? "opens" : "error");
    } catch (err) {
      out.textContent = err.message;
      out.className = "test-result error";
    }
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
