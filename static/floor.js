// The floor tablet: what to do now first (urgent pain, then service at a
// till, then the rest; a lane back to normal, calm, below what is open), the
// after-sale invitations grouped below, the lanes' state (first on narrow
// screens), the staffing recommendation, a count of what was resolved today,
// and "Report a pain point" always in the top bar. The list holds only what
// is live: prompts resolved or expired leave it. Every lane figure on the
// page comes from one answer (/api/v1/queues): the tiles, the recommendation
// and the queue cards.
//
// Each prompt becomes a card through one function, cardOf(prompt), which
// looks up its kind in CARDS: a new kind of prompt plugs in there.
"use strict";

(() => {
  const P = Posplugin;
  const SNAPSHOT = "posplugin.floor.snapshot";
  const NAME_KEY = "posplugin.name";
  const LEVEL_ORDER = { urgent: 0, murdoch: 0, priority: 1, standard: 2 };
  const SYSTEM_NAMES = new Set(["posplugin", "floor"]);
  const LIVE = ["open", "taken"];
  const prompts = P.promptStore();
  const state = { prompts: prompts.map, queues: null, today: null, resolvedToday: 0 };
  const $ = (id) => document.getElementById(id);
  const seen = new Set();   // prompt ids (and escalations) already alerted or present at load
  let loaded = false;
  let alerts = null;

  // -- who is using the tablet ------------------------------------------------

  const myName = () => (localStorage.getItem(NAME_KEY) || "").trim();

  function showName() {
    const name = myName();
    $("me").textContent = name ? P.t("floor.you", { name }) : P.t("floor.set_name");
  }

  // A till's card takes prompts in the till's name ("the till at lane 3"): no person's name to offer.
  const tillName = () => new RegExp("^" + P.t("till.by", { lane: "\u0000" }).split("\u0000")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".+") + "$");

  function staffNames() {
    const names = new Set();
    for (const p of state.prompts.values()) {
      for (const n of [p.taken_by, p.resolved_by]) {
        if (n && !SYSTEM_NAMES.has(n) && !tillName().test(n)) names.add(n);
      }
    }
    return [...names].sort();
  }

  // Resolves with the name once there is one (asked once, then remembered).
  function askName(always) {
    if (myName() && !always) return Promise.resolve(myName());
    const dialog = $("name-dialog");
    $("name-input").value = myName();
    $("staff-names").replaceChildren(...staffNames().map((n) => { const o = P.el("option"); o.value = n; return o; }));
    return new Promise((resolve) => {
      const done = () => {
        dialog.removeEventListener("close", done);
        const name = $("name-input").value.trim();
        if (dialog.returnValue === "save" && name) {
          localStorage.setItem(NAME_KEY, name);
          showName();
          resolve(name);
        } else {
          resolve(null);
        }
      };
      dialog.returnValue = "";
      dialog.addEventListener("close", done);
      dialog.showModal();
      $("name-input").focus();
    });
  }

  // -- snapshot for a restart while offline --------------------------------------

  function save() {
    localStorage.setItem(SNAPSHOT, JSON.stringify({
      prompts: [...state.prompts.values()], queues: state.queues, today: state.today,
      resolvedToday: state.resolvedToday, day: new Date().toDateString() }));
  }

  function restore() {
    try {
      const snap = JSON.parse(localStorage.getItem(SNAPSHOT) || "null");
      if (!snap) return;
      snap.prompts.filter((p) => LIVE.includes(p.status)).forEach((p) => { prompts.merge(p); seen.add(alertKey(p)); });
      state.queues = snap.queues;
      state.today = snap.today;
      state.resolvedToday = snap.day === new Date().toDateString() ? snap.resolvedToday || 0 : 0;
      render();
    } catch (e) { /* a bad snapshot is simply ignored */ }
  }

  // -- words shared by tiles and cards --------------------------------------------

  const laneName = (lane) => P.t("lane", { lane });

  function waitWords(seconds) {
    return seconds < 60 ? P.t("floor.wait_under") : P.t("floor.wait", { minutes: P.number(Math.round(seconds / 60)) });
  }

  function ageWords(iso) {
    const mins = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    return mins < 1 ? P.t("floor.just_now") : P.t("floor.ago", { minutes: P.number(mins) });
  }

  function laneOf(lane) {
    return state.queues && state.queues.lanes.find((l) => String(l.lane) === String(lane));
  }

  function laneLine(l) {
    // The one way a lane's figures are written, on its tile and on its queue card.
    return P.t("floor.lane_line", { length: P.number(l.length), wait: waitWords(l.wait_s) });
  }

  function where(p) {
    if (p.lane) return laneName(p.lane);
    return p.place || "";
  }

  // -- prompts as cards ------------------------------------------------------------------
  //
  // A card: { group (0 first), label, title, body, take (offer Take), calm }.
  // Groups: 0 urgent, 1 service at a till, 2 the rest of what is open, 3 calm
  // (nothing to do, closes by itself). After-sale invitations are listed apart.

  function queueCard(p) {
    // A queue card's figures come from the lane's tile, so the two always agree;
    // a lane back to normal is said in the past tense and asks nothing.
    const l = p.queue && p.lane ? laneOf(p.lane) : null;
    const calm = l ? l.status === "ok" : !!(p.queue && p.queue.calm);
    if (calm) {
      const length = P.number(l ? l.length : p.queue.length);
      const normal = P.number(Math.round(l ? l.normal : p.queue.normal));
      return { group: 3, calm: true, take: false, label: P.t("floor.calm"),
        title: P.t("floor.queue_calm", { lane: p.lane, length }),
        body: P.t("floor.queue_calm_body", { line: l ? laneLine(l) : length, normal }) };
    }
    if (!l) return null;
    const title = P.t(l.status === "long" ? "floor.queue_long" : "floor.queue_above", { lane: l.lane, length: P.number(l.length) });
    const parts = [P.t("floor.queue_body", { line: laneLine(l), normal: P.number(Math.round(l.normal)) })];
    if (p.queue.influencers) {
      parts.push(P.t("floor.queue_reach", { count: P.number(p.queue.influencers), reach: P.number(l.waiting_reach || p.queue.waiting_reach) }));
    }
    parts.push(P.t("floor.queue_action"));
    return { group: p.level === "urgent" ? 0 : 2, title, body: parts.join(" ") };
  }

  const CARDS = {
    service: (p) => ({ group: p.lane ? 1 : 2 }),
    pain: (p) => (p.queue ? queueCard(p) : null) || { group: p.level === "urgent" ? 0 : 2 },
    amplify: () => ({ group: 9, afterSale: true }),
  };

  function cardOf(p) {
    const made = (CARDS[p.kind] || (() => ({})))(p) || {};
    const group = made.group !== undefined ? made.group : p.level === "urgent" ? 0 : 2;
    return Object.assign({ label: P.t("level." + p.level), title: p.title, body: p.body, take: true, calm: false },
      made, { group });
  }

  function compare(a, b) {
    const ca = cardOf(a), cb = cardOf(b);
    const g = ca.group - cb.group;
    if (g) return g;
    const taken = (a.status === "taken") - (b.status === "taken");  // open work before work someone has
    if (taken) return taken;
    if (ca.group === 0) {
      // Urgent: escalated first, then what the store sees now (a lane, a pain
      // point) before what a customer posted about it, then the one waiting longest.
      return (!!b.escalated - !!a.escalated) || ((a.kind === "heard") - (b.kind === "heard"))
        || (a.created_at < b.created_at ? -1 : 1);
    }
    return ((LEVEL_ORDER[a.level] || 0) - (LEVEL_ORDER[b.level] || 0)) || (a.created_at < b.created_at ? 1 : -1);
  }

  function buttons(p, card) {
    const box = P.el("div", "buttons");
    if (p.status === "open" && card.take) {
      const take = P.el("button", "take", P.t("floor.take"));
      take.type = "button";
      take.addEventListener("click", () => act(p.id, "ack"));
      box.append(take);
    }
    const done = P.el("button", "done", P.t(card.calm ? "floor.close_now" : "floor.done"));
    done.type = "button";
    done.addEventListener("click", () => act(p.id, "resolve"));
    box.append(done);
    return box;
  }

  function promptItem(p) {
    const card = cardOf(p);
    const li = P.el("li", `prompt level-${p.level} status-${p.status}${p.escalated ? " escalated" : ""}${card.calm ? " calm" : ""}`);
    li.dataset.id = p.id;
    li.dataset.kind = p.kind;
    const head = P.el("div", "prompt-head");
    head.append(P.el("span", "level-word", card.label));
    head.append(P.el("span", "prompt-meta", [where(p), ageWords(p.created_at)].filter(Boolean).join(" · ")));
    li.append(head, P.el("h3", "prompt-title", card.title), P.el("p", "prompt-body", card.body));
    if (p.taken_by) li.append(P.el("p", "taken", P.t("floor.taken_by", { name: p.taken_by })));
    li.append(buttons(p, card));
    return li;
  }

  function heardItem(p) {
    // What a customer posted about this store: the excerpt, what it is about,
    // how long ago, the lane if named. Never who (staff fix the cause; head
    // office answers the person). Every word goes in as text, never markup.
    const li = P.el("li", `prompt heard level-${p.level} status-${p.status} tone-${p.tone || "neutral"}`);
    li.dataset.id = p.id;
    li.dataset.kind = p.kind;
    const head = P.el("div", "prompt-head");
    head.append(P.el("span", "level-word", `${P.t("floor.heard")} · ${P.t("floor.heard_tone." + (p.tone || "neutral"))}`));
    const posted = p.posted_at ? P.t("floor.heard_posted", { ago: ageWords(p.posted_at) }) : ageWords(p.created_at);
    head.append(P.el("span", "prompt-meta", [where(p), posted].filter(Boolean).join(" · ")));
    li.append(head, P.el("h3", "prompt-title", p.title), P.el("p", "prompt-body heard-excerpt", p.body));
    if (p.taken_by) li.append(P.el("p", "taken", P.t("floor.taken_by", { name: p.taken_by })));
    li.append(buttons(p, cardOf(p)));
    return li;
  }

  function afterSaleItem(p) {
    const li = P.el("li", `after-sale-item level-${p.level} status-${p.status}`);
    li.dataset.id = p.id;
    li.dataset.kind = p.kind;
    const who = p.display_name || P.t("tier." + (p.tier || "everyday"));
    const facts = [where(p) || P.t("floor.somewhere"), ageWords(p.created_at)];
    if (p.expires_at && p.status === "open") {
      const left = Math.max(0, Math.round((Date.parse(p.expires_at) - Date.now()) / 60000));
      facts.push(P.t("floor.expires_in", { minutes: P.number(left) }));
    }
    if (p.taken_by) facts.push(P.t("floor.taken_by", { name: p.taken_by }));
    const text = P.el("div", "after-sale-text");
    text.append(P.el("strong", "after-sale-who", who), P.el("span", "after-sale-facts", facts.join(" · ")));
    if (p.who) text.append(P.el("span", "after-sale-detail", p.who));
    li.append(text, buttons(p, cardOf(p)));
    return li;
  }

  function renderPrompts() {
    const live = [...state.prompts.values()].filter((p) => LIVE.includes(p.status));
    live.sort(compare);
    const work = live.filter((p) => !cardOf(p).afterSale);
    const afterSale = live.filter((p) => cardOf(p).afterSale);
    $("prompts").replaceChildren(...work.map((p) => (p.kind === "heard" ? heardItem(p) : promptItem(p))));
    $("no-prompts").hidden = work.length > 0;
    $("after-sale").hidden = afterSale.length === 0;
    $("after-sale-count").textContent = P.number(afterSale.length);
    $("after-sale-list").replaceChildren(...afterSale.map(afterSaleItem));
    const urgent = live.filter((p) => p.level === "urgent" && p.status === "open").length;
    document.title = (urgent ? `(${urgent}) ` : "") + P.t("floor.title") + " · posplugin";
    $("resolved-today").textContent = P.t("floor.resolved_today", { count: P.number(state.resolvedToday) });
  }

  // -- lanes ----------------------------------------------------------------------------

  function chart(lane) {
    // Today's length (line) against the normal band (shaded), drawn as SVG.
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 240 60");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", P.t("floor.chart", { lane: laneName(lane) }));
    const data = state.today && state.today.lanes[lane];
    if (!data || !data.points.length) return svg;
    const start = Date.parse(state.today.since) / 1000;
    const end = start + 24 * 3600;
    const top = Math.max(5, ...data.points.map((p) => p[1]), ...data.normal.map((n) => n[1] * 1.5));
    const x = (t) => ((t - start) / (end - start)) * 240;
    const y = (v) => 58 - (v / top) * 56;
    const band = document.createElementNS(NS, "path");
    let d = "";
    data.normal.forEach(([t, n]) => { d += `M${x(t)},${y(n * 1.5)} H${x(t + 3600)} V${y(0)} H${x(t)} Z `; });
    band.setAttribute("d", d);
    band.setAttribute("class", "band");
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", data.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
    line.setAttribute("class", "line");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(band, line);
    return svg;
  }

  function renderLanes() {
    const q = state.queues;
    if (!q) return;
    $("reach").textContent = q.waiting_reach ? P.t("floor.reach", { reach: P.number(q.waiting_reach) }) : "";
    $("recommendation").textContent = q.recommendation.reason;
    $("lanes").replaceChildren(...q.lanes.map((l) => {
      const card = P.el("article", `lane status-${l.status}${l.open ? "" : " closed"}`);
      card.dataset.lane = l.lane;
      const head = P.el("div", "lane-head");
      head.append(P.el("span", "lane-tag", laneName(l.lane)),
        P.el("span", "status-word", l.open ? P.t("status." + l.status) : P.t("floor.closed")));
      const normal = P.number(Math.round(l.normal));
      card.append(head, P.el("p", "lane-line", laneLine(l)), P.el("p", "lane-normal", P.t("floor.normal", { normal })),
        P.el("p", "lane-compact", P.t("floor.lane_compact", { length: P.number(l.length), normal })), chart(l.lane));
      return card;
    }));
  }

  function render() {
    renderLanes();
    renderPrompts();
  }

  // -- alerts -------------------------------------------------------------------------

  const alertKey = (p) => `${p.id}${p.escalated ? ":escalated" : ""}`;

  function maybeAlert(p) {
    // A new urgent prompt, or one escalating because nobody took it.
    const key = alertKey(p);
    if (seen.has(key)) return;
    seen.add(key);
    if (loaded && p.level === "urgent" && p.status === "open" && alerts) alerts.fire();
  }

  // -- data -------------------------------------------------------------------------------

  async function reloadQueues() {
    [state.queues, state.today] = await Promise.all([
      P.api("GET", "/api/v1/queues"), P.api("GET", "/api/v1/queues/today")]);
    render();  // queue cards take their figures from the lanes
    save();
  }

  async function reload() {
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    prompts.begin();
    const [open, taken, resolved] = await Promise.all([
      P.api("GET", "/api/v1/prompts?status=open"), P.api("GET", "/api/v1/prompts?status=taken"),
      P.api("GET", `/api/v1/prompts?status=resolved&since=${encodeURIComponent(midnight.toISOString())}`)]);
    const list = [...open.prompts, ...taken.prompts];
    list.forEach(maybeAlert);
    loaded = true;
    prompts.replace(list);
    state.resolvedToday = resolved.count !== undefined ? resolved.count : resolved.prompts.length;
    forgetClosed();
    renderPrompts();
    await reloadQueues();
  }

  // The list holds what is live: a prompt resolved or expired leaves it (a resolved one is counted).
  function forgetClosed() {
    for (const [id, p] of state.prompts) if (!LIVE.includes(p.status)) state.prompts.delete(id);
  }

  async function act(id, action) {
    const name = await askName(false);
    if (!name) return;
    onPrompt(await P.api("POST", `/api/v1/prompts/${id}/${action}`, { by: name }));
  }

  function onPrompt(prompt) {
    maybeAlert(prompt);
    const before = state.prompts.get(prompt.id);
    if (prompt.status === "resolved" && before && LIVE.includes(before.status)) state.resolvedToday += 1;
    prompts.merge(prompt);
    forgetClosed();
    renderPrompts();
    save();
  }

  let queueTimer = null;
  function onQueue() {
    // Readings can come several a second; refresh the lanes at most once a second.
    if (queueTimer) return;
    queueTimer = setTimeout(() => { queueTimer = null; reloadQueues().catch(() => {}); }, 1000);
  }

  // -- reporting a pain point ----------------------------------------------------------

  function openReport() {
    $("pain-sent").textContent = "";
    $("report-dialog").showModal();
    $("pain-kind").focus();
  }

  $("pain").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: $("pain-kind").value };
    if (myName()) body.by = myName();
    if ($("pain-lane").value.trim()) body.lane = $("pain-lane").value.trim();
    if ($("pain-note").value.trim()) body.note = $("pain-note").value.trim();
    try {
      onPrompt(await P.api("POST", "/api/v1/painpoints", body));
      $("pain-note").value = "";
      $("report-dialog").close();
      $("report-sent").textContent = P.t("floor.sent");
    } catch (err) {
      $("pain-sent").textContent = err.message;
    }
  });
  $("report").addEventListener("click", openReport);
  $("pain-cancel").addEventListener("click", () => $("report-dialog").close());
  $("me").addEventListener("click", () => askName(true));
  $("name-cancel").addEventListener("click", () => $("name-dialog").close(""));

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }

  P.loadMessages().then(() => {
    showName();
    alerts = PospluginAlert.create({ key: "posplugin.alerts.floor", defaultOn: true,
      button: $("sound"), hint: $("sound-hint") });
    restore();
    setInterval(renderPrompts, 30000);  // ages and expiries move on
    if (!P.token) {
      $("no-prompts").textContent = P.t("no_token");
      return;
    }
    P.live({ reload: () => reload().catch(() => {}), prompt: onPrompt, queue: onQueue });
  });
})();
