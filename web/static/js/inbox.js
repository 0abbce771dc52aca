// The inbox: keeps the queue and sidebar current from live events, marks the open
// ticket in the queue, and on phones switches between the queue and the ticket.
(function () {
  "use strict";
  const main = document.getElementById("main");
  if (!main || !main.classList.contains("inbox")) return;
  const queue = document.getElementById("queue");
  const sidebar = document.getElementById("sidebar");

  function openTicketId() {
    const t = document.querySelector("#ticket .ticket");
    return t ? Number(t.dataset.ticketId) : 0;
  }
  function filterQuery() {
    return new URLSearchParams(new FormData(document.getElementById("filters"))).toString();
  }

  function markOpen() {
    const id = openTicketId();
    for (const r of document.querySelectorAll("#rows > .row")) {
      const on = Number(r.dataset.ticketId) === id;
      r.classList.toggle("selected", on);
      if (on) { r.setAttribute("aria-selected", "true"); r.classList.remove("unread"); } else r.removeAttribute("aria-selected");
    }
  }

  // Refreshes are coalesced: a burst of events costs one request per list.
  let timer;
  function refreshLists() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = filterQuery();
      PD.swap("/ui/queue?" + q, queue).then(markOpen);
      PD.swap("/ui/sidebar?" + q, sidebar);
    }, 250);
  }
  PD.refreshLists = refreshLists;

  document.addEventListener("pd:live", (e) => {
    const ev = e.detail;
    if (ev.kind === "presence" || ev.kind === "notification") return;
    refreshLists();
    if (ev.ticket_id && ev.ticket_id === openTicketId() && PD.ticket) PD.ticket.reloadSoon();
  });
  // After a reconnect, events may have been missed.
  let opened = false;
  document.addEventListener("pd:live-open", () => { if (opened) refreshLists(); opened = true; });

  function swapped(target) {
    if (target.id === "ticket") {
      main.classList.add("has-ticket");
      markOpen();
    }
    if (target.id === "queue") markOpen();
  }
  document.body.addEventListener("htmx:afterSwap", (e) => swapped(e.detail.target));
  document.body.addEventListener("pd:swapped", (e) => swapped(e.target));
  document.body.addEventListener("click", (e) => {
    const back = e.target.closest("[data-back]");
    if (back && window.matchMedia("(max-width: 760px)").matches) {
      e.preventDefault();
      main.classList.remove("has-ticket");
      history.pushState({}, "", "/?" + filterQuery());
    }
  });
  markOpen();
})();
