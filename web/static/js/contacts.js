// Contacts: search, a contact's identities and tickets across channels, merge.
(function () {
  "use strict";
  const main = document.getElementById("main");
  const id = Number(main.dataset.contactId);

  function el(tag, text, href) {
    const e = document.createElement(href ? "a" : tag);
    if (href) e.href = href;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function list(q) {
    const box = document.getElementById("contact-list");
    let r;
    try { r = await PD.api("GET", "/contacts" + (q ? "?q=" + encodeURIComponent(q) : "")); } catch (err) { PD.fail(err); return; }
    box.replaceChildren();
    if (!(r.items || []).length) { box.appendChild(el("p", PD.str("contacts_empty"))); return; }
    const ul = document.createElement("ul");
    ul.className = "plain contact-rows";
    for (const c of r.items) {
      const li = document.createElement("li");
      li.appendChild(el("a", c.name || "#" + c.id, "/contacts/" + c.id));
      const ids = (c.identities || []).map((i) => i.value).join(", ");
      li.appendChild(el("span", " " + ids + " · " + c.ticket_count + " #"));
      ul.appendChild(li);
    }
    box.appendChild(ul);
  }

  async function detail() {
    let c;
    try { c = await PD.api("GET", "/contacts/" + id); } catch (err) { PD.fail(err); return; }
    document.getElementById("contact-detail").hidden = false;
    document.getElementById("contact-name").textContent = (c.name || "#" + c.id) + " (#" + c.id + ")";
    const ids = document.getElementById("contact-identities");
    ids.replaceChildren(...(c.identities || []).map((i) => el("li", i.kind + ": " + i.value)));
    const rows = document.getElementById("contact-tickets");
    rows.replaceChildren(...(c.tickets || []).map((t) => {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.appendChild(el("a", "#" + t.number + " " + t.subject, "/tickets/" + t.id));
      tr.appendChild(td);
      tr.appendChild(el("td", PD.str("status." + t.status)));
      return tr;
    }));
  }

  document.getElementById("contact-merge").addEventListener("submit", async (e) => {
    e.preventDefault();
    const other = Number(e.target.elements.id.value);
    try {
      await PD.api("POST", "/contacts/" + other + "/merge", { into_id: id });
      PD.toast(PD.str("merged"), 2500);
      e.target.reset();
      detail();
    } catch (err) { PD.fail(err); }
  });

  if (id) detail(); else list(document.getElementById("contact-q").value);
})();
