// Live updates: one EventSource per tab on /api/v1/events/stream. Events are
// re-dispatched on document as "pd:live" so each page script takes what it needs.
// A new conversation also plays a short sound and shows a desktop notification,
// each unless the agent switched it off in their profile.
(function () {
  "use strict";
  if (!window.EventSource || !window.PD) return;
  const body = document.body;
  let es;
  let reconnectToast;

  function connect() {
    es = new EventSource("/api/v1/events/stream");
    es.onopen = () => {
      body.dataset.live = "open";
      if (reconnectToast) { reconnectToast.close(); reconnectToast = null; }
      document.dispatchEvent(new CustomEvent("pd:live-open"));
    };
    es.onerror = () => {
      body.dataset.live = "closed";
      if (!reconnectToast && es.readyState !== EventSource.OPEN) reconnectToast = PD.toast(PD.str("reconnecting"), 60000);
    };
    for (const kind of ["ticket.created", "ticket.updated", "message.created", "message.updated", "presence", "notification"]) {
      es.addEventListener(kind, (e) => {
        let ev;
        try { ev = JSON.parse(e.data); } catch (_) { return; }
        document.dispatchEvent(new CustomEvent("pd:live", { detail: ev }));
        if (kind === "ticket.created") newConversation(ev);
        if (kind === "notification" && ev.agent_id === PD.agentId) PD.bumpNotifications();
      });
    }
  }

  function newConversation(ev) {
    const data = ev.data || {};
    if (data.kind === "task") return;
    if (body.dataset.sound !== "false") beep();
    if (body.dataset.desktop !== "false" && "Notification" in window && Notification.permission === "granted" && document.hidden) {
      const n = new Notification(PD.str("new_conversation"), { body: data.subject || "", tag: "ticket-" + ev.ticket_id });
      n.onclick = () => { window.focus(); window.location.assign("/tickets/" + ev.ticket_id); };
    }
  }

  // A two-tone chime from Web Audio: no sound file to ship or fetch.
  let audio;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t = audio.currentTime;
      for (const [f, at] of [[880, 0], [1320, 0.12]]) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.08, t + at);
        g.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.25);
        o.connect(g).connect(audio.destination);
        o.start(t + at);
        o.stop(t + at + 0.3);
      }
    } catch (_) { /* no audio available */ }
  }

  // Ask for desktop notifications on the first interaction, never on load.
  document.addEventListener("click", function ask() {
    document.removeEventListener("click", ask);
    if (body.dataset.desktop !== "false" && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  });

  connect();
  window.addEventListener("beforeunload", () => es && es.close());
})();
