// The floor tablet: what to do now first (urgent pain, then service at a
// till, then the rest), the after-sale invitations grouped below, the lanes'
// state (first on a phone), the staffing recommendation, a pain-point form
// and today's resolved prompts. Every lane figure on the page comes from one
// answer (/api/v1/queues): the tiles, the recommendation and the queue cards.
"use strict";

(() => {
  const P = Posplugin;
  const SNAPSHOT = "posplugin.floor.snapshot";
  const NAME_KEY = "posplugin.name";
  const SERVICE_ORDER = { murdoch: 0, priority: 1, standard: 2, urgent: 0 };
  const SYSTEM_NAMES = new Set(["posplugin", "floor"]);
  const prompts = P.promptStore();
  const state = { prompts: prompts.map, queues: null, today: null };
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

  function staffNames() {
    const names = new Set();
    for (const p of state.prompts.values()) {
      for (const n of [p.taken_by, p.resolved_by]) {
        if (n && !SYSTEM_NAMES.has(n) && !/^Lane /.test(n)) names.add(n);
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
      prompts: [...state.prompts.values()], queues: state.queues, today: state.today }));
  }

  function restore() {
    try {
      const snap = JSON.parse(localStorage.getItem(SNAPSHOT) || "null");
      if (!snap) return;
      snap.prompts.forEach((p) => { prompts.merge(p); seen.add(alertKey(p)); });
      state.queues = snap.queues;
      state.today = snap.today;
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

  // -- prompts ------------------------------------------------------------------------

  function group(p) {
    if (p.kind === "amplify") return 3;
    if (p.level === "urgent") return 0;
    if (p.kind === "service" && p.lane) return 1;
    return 2;
  }

  function compare(a, b) {
    const g = group(a) - group(b);
    if (g) return g;
    const taken = (a.status === "taken") - (b.status === "taken");  // open work before work someone has
    if (taken) return taken;
    if (group(a) === 0) {
      // Urgent: escalated first, then the one waiting longest.
      return (!!b.escalated - !!a.escalated) || (a.created_at < b.created_at ? -1 : 1);
    }
    return (SERVICE_ORDER[a.level] - SERVICE_ORDER[b.level]) || (a.created_at < b.created_at ? 1 : -1);
  }

  function buttons(p) {
    const box = P.el("div", "buttons");
    if (p.status === "open") {
      const take = P.el("button", "take", P.t("floor.take"));
      take.type = "button";
      take.addEventListener("click", () => act(p.id, "ack"));
      box.append(take);
    }
    const done = P.el("button", "done", P.t("floor.done"));
    done.type = "button";
    done.addEventListener("click", () => act(p.id, "resolve"));
    box.append(done);
    return box;
  }

  function where(p) {
    if (p.lane) return laneName(p.lane);
    return p.place || "";
  }

  function queueWords(p) {
    // A queue card's figures from the lane's tile, so the two always agree.
    const l = p.queue && p.lane ? laneOf(p.lane) : null;
    if (!l) return null;
    const title = P.t({ long: "floor.queue_long", busy: "floor.queue_above" }[l.status] || "floor.queue_calm",
      { lane: l.lane, length: P.number(l.length) });
    const parts = [P.t("floor.queue_body", { line: laneLine(l), normal: P.number(Math.round(l.normal)) })];
    if (p.queue.influencers) {
      parts.push(P.t("floor.queue_reach", { count: P.number(p.queue.influencers), reach: P.number(l.waiting_reach || p.queue.waiting_reach) }));
    }
    parts.push(P.t("floor.queue_action"));
    return { title, body: parts.join(" ") };
  }

  function promptItem(p) {
    const li = P.el("li", `prompt level-${p.level} status-${p.status}${p.escalated ? " escalated" : ""}`);
    li.dataset.id = p.id;
    li.dataset.kind = p.kind;
    const head = P.el("div", "prompt-head");
    head.append(P.el("span", "level-word", P.t("level." + p.level)));
    const meta = P.el("span", "prompt-meta", [where(p), ageWords(p.created_at)].filter(Boolean).join(" · "));
    head.append(meta);
    const words = queueWords(p) || { title: p.title, body: p.body };
    li.append(head, P.el("h3", "prompt-title", words.title), P.el("p", "prompt-body", words.body));
    if (p.taken_by) li.append(P.el("p", "taken", P.t("floor.taken_by", { name: p.taken_by })));
    li.append(buttons(p));
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
    li.append(buttons(p));
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
    li.append(text, buttons(p));
    return li;
  }

  function renderPrompts() {
    const all = [...state.prompts.values()];
    const live = all.filter((p) => p.status === "open" || p.status === "taken");
    live.sort(compare);
    const work = live.filter((p) => p.kind !== "amplify");
    const afterSale = live.filter((p) => p.kind === "amplify");
    $("prompts").replaceChildren(...work.map((p) => (p.kind === "heard" ? heardItem(p) : promptItem(p))));
    $("no-prompts").hidden = work.length > 0;
    $("after-sale").hidden = afterSale.length === 0;
    $("after-sale-count").textContent = P.number(afterSale.length);
    $("after-sale-list").replaceChildren(...afterSale.map(afterSaleItem));
    const urgent = live.filter((p) => p.level === "urgent" && p.status === "open").length;
    document.title = (urgent ? `(${urgent}) ` : "") + P.t("floor.title") + " · posplugin";
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    const resolved = all.filter((p) => p.status === "resolved" && Date.parse(p.resolved_at) >= midnight);
    resolved.sort((a, b) => (a.resolved_at < b.resolved_at ? 1 : -1));
    $("resolved").replaceChildren(...resolved.slice(0, 30).map((p) => {
      const li = P.el("li", "resolved-item", p.title);
      const mins = Math.max(0, Math.round((Date.parse(p.taken_at || p.resolved_at) - Date.parse(p.created_at)) / 60000));
      li.append(P.el("span", "time-to-act", " · " + P.t("floor.time_to_act", { minutes: P.number(mins) }) +
        (p.resolved_by ? ` · ${p.resolved_by}` : "")));
      return li;
    }));
  }

  // -- lanes ----------------------------------------------------------------------------

  function chart(lane) {
    // Today's length (line) against the normal band (shaded), drawn as SVG.
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 240 60");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", laneName(lane));
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
      card.append(head, P.el("p", "lane-line", laneLine(l)),
        P.el("p", "lane-normal", P.t("floor.normal", { normal: P.number(Math.round(l.normal)) })), chart(l.lane));
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
    const list = [...open.prompts, ...taken.prompts, ...resolved.prompts];
    list.forEach(maybeAlert);
    loaded = true;
    prompts.replace(list);
    renderPrompts();
    await reloadQueues();
  }

  async function act(id, action) {
    const name = await askName(false);
    if (!name) return;
    onPrompt(await P.api("POST", `/api/v1/prompts/${id}/${action}`, { by: name }));
  }

  function onPrompt(prompt) {
    maybeAlert(prompt);
    prompts.merge(prompt);
    renderPrompts();
    save();
  }

  let queueTimer = null;
  function onQueue() {
    // Readings can come several a second; refresh the lanes at most once a second.
    if (queueTimer) return;
    queueTimer = setTimeout(() => { queueTimer = null; reloadQueues().catch(() => {}); }, 1000);
  }

  $("pain").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: $("pain-kind").value };
    if (myName()) body.by = myName();
    if ($("pain-lane").value.trim()) body.lane = $("pain-lane").value.trim();
    if ($("pain-note").value.trim()) body.note = $("pain-note").value.trim();
    try {
      onPrompt(await P.api("POST", "/api/v1/painpoints", body));
      $("pain-sent").textContent = P.t("floor.sent");
      $("pain-note").value = "";
    } catch (err) {
      $("pain-sent").textContent = err.message;
    }
  });
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
