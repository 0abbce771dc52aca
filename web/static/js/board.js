// The task board: cards from GET /channels/{id}/board (a page per column, more on
// request), dragged within and between
// columns (SortableJS) and saved with PATCH /tickets/{id} {status, position}; a
// quick-add card creates a task; live events of the channel refresh the board.
(function () {
  "use strict";
  const board = document.getElementById("board");
  if (!board) return;
  const channelId = Number(board.dataset.channelId);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function card(c) {
    const li = el("li", "card");
    li.dataset.id = c.id;
    li.dataset.position = c.position;
    const a = el("a", "", "#" + c.number + " " + c.subject);
    a.href = "/tickets/" + c.id;
    li.appendChild(a);
    const meta = el("div", "meta");
    if (c.priority !== "normal") meta.appendChild(el("span", "badge pr-" + c.priority, PD.str("priority." + c.priority)));
    meta.appendChild(el("span", "assignee", c.assignee_name || PD.str("unassigned")));
    if (c.due_at) {
      const due = new Date(c.due_at);
      const late = due < new Date() && c.status !== "resolved" && c.status !== "closed";
      meta.appendChild(el("span", "due" + (late ? " overdue" : ""), (late ? PD.str("overdue") : PD.str("due")) + " " + due.toLocaleDateString()));
    }
    if (c.checklist_total) meta.appendChild(el("span", "progress", "☑ " + c.checklist_done + "/" + c.checklist_total));
    li.appendChild(meta);
    return li;
  }

  // A column returns its first 200 cards and a cursor for the rest; "Show more"
  // reads the next page. shown remembers how far each column was read, so a refresh
  // (a move, a live event) reads as far again instead of dropping the reader back.
  const shown = {};
  const boardPath = "/channels/" + channelId + "/board";

  async function nextPage(status, cursor) {
    const b = await PD.api("GET", boardPath + "?status=" + status + "&cursor=" + encodeURIComponent(cursor));
    return b.columns[0];
  }

  function show(status, cards, next, append) {
    const ol = board.querySelector(`.cards[data-status="${status}"]`);
    if (append) ol.append(...cards.map(card));
    else ol.replaceChildren(...cards.map(card));
    shown[status] = ol.children.length;
    board.querySelector(`[data-count="${status}"]`).textContent = ol.children.length + (next ? "+" : "");
    const more = board.querySelector(`[data-more="${status}"]`);
    more.hidden = !next;
    more.dataset.cursor = next || "";
  }

  async function load() {
    let b;
    try { b = await PD.api("GET", boardPath); } catch (err) { PD.fail(err); return; }
    for (const col of b.columns) {
      if (!board.querySelector(`.cards[data-status="${col.status}"]`)) continue;
      let cards = col.cards, next = col.next_cursor;
      try {
        while (next && cards.length < (shown[col.status] || 0)) {
          const page = await nextPage(col.status, next);
          cards = cards.concat(page.cards);
          next = page.next_cursor;
        }
      } catch (err) { PD.fail(err); }
      show(col.status, cards, next, false);
    }
    board.dataset.loaded = "true";
  }

  board.addEventListener("click", async (e) => {
    const more = e.target.closest("[data-more]");
    if (!more || !more.dataset.cursor) return;
    more.disabled = true;
    try {
      const page = await nextPage(more.dataset.more, more.dataset.cursor);
      show(more.dataset.more, page.cards, page.next_cursor, true);
    } catch (err) { PD.fail(err); }
    more.disabled = false;
  });

  // A moved card takes a position between its new neighbours.
  async function moved(ev) {
    const item = ev.item;
    const pos = (e) => (e ? Number(e.dataset.position) : null);
    const before = pos(item.previousElementSibling), after = pos(item.nextElementSibling);
    let p;
    if (before === null && after === null) p = 1024;
    else if (before === null) p = after - 1024;
    else if (after === null) p = before + 1024;
    else p = (before + after) / 2;
    try {
      await PD.api("PATCH", "/tickets/" + item.dataset.id, { status: ev.to.dataset.status, position: p });
    } catch (err) { PD.fail(err); }
    load();
  }

  for (const ol of board.querySelectorAll(".cards")) {
    Sortable.create(ol, { group: "board", animation: 120, onEnd: moved });
  }

  document.getElementById("quick-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = e.target.elements.subject;
    try {
      await PD.api("POST", "/tickets", { kind: "task", channel_id: channelId, subject: input.value });
      input.value = "";
      await load();
      input.focus();
    } catch (err) { PD.fail(err); }
  });

  let timer;
  document.addEventListener("pd:live", (e) => {
    if (e.detail.channel_id !== channelId || e.detail.kind === "presence") return;
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  load();
})();
