// Keyboard shortcuts: j/k move in the queue, Enter opens, r reply, n note,
// e resolve, s snooze, a assign, / search, ? this list.
(function () {
  "use strict";
  const help = document.getElementById("keys-help");
  document.getElementById("keys-open")?.addEventListener("click", () => help.showModal());

  function rows() { return Array.from(document.querySelectorAll("#rows > .row")); }
  function selected() { return document.querySelector("#rows > .row.selected"); }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const cur = selected();
    let i = cur ? all.indexOf(cur) + step : 0;
    i = Math.max(0, Math.min(all.length - 1, i));
    select(all[i]);
  }
  function select(row) {
    for (const r of rows()) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); }
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
    row.querySelector("a").focus({ preventScroll: true });
  }
  window.PD && (PD.selectRow = select);

  function composerMode(mode) {
    const form = document.getElementById("composer");
    if (!form) return;
    form.querySelector(`input[name=mode][value=${mode}]`).click();
    form.querySelector("textarea").focus();
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, [contenteditable], dialog[open]")) {
      if (e.key === "Escape" && t.blur) t.blur();
      return;
    }
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      Enter: () => { const r = selected(); if (r && t.tagName !== "A" && t.tagName !== "BUTTON") r.querySelector("a").click(); else return false; },
      r: () => composerMode("reply"),
      n: () => composerMode("note"),
      e: () => window.PD && PD.ticket && PD.ticket.setStatus("resolved"),
      s: () => document.querySelector("#snooze button")?.focus(),
      a: () => document.getElementById("f-assignee")?.focus(),
      "/": () => document.getElementById("search")?.focus(),
      "?": () => help.showModal(),
    };
    const f = actions[e.key];
    if (!f) return;
    if (f() === false) return;
    e.preventDefault();
  });
})();
