// The floor tablet: every open prompt by urgency, the lanes against normal,
// the staffing recommendation, a pain-point form, and today's resolved prompts.
"use strict";

(() => {
  const P = Posplugin;
  const URGENCY = { murdoch: 0, urgent: 1, priority: 2, standard: 3 };
  const SNAPSHOT = "posplugin.floor.snapshot";
  const prompts = P.promptStore();
  const state = { prompts: prompts.map, queues: null, today: null };
  const $ = (id) => document.getElementById(id);
  const me = () => $("me").value.trim() || "floor";

  $("me").value = localStorage.getItem("posplugin.name") || "";
  $("me").addEventListener("change", () => localStorage.setItem("posplugin.name", $("me").value.trim()));

  function save() {
    localStorage.setItem(SNAPSHOT, JSON.stringify({
      prompts: [...state.prompts.values()], queues: state.queues, today: state.today }));
  }

  function restore() {
    try {
      const snap = JSON.parse(localStorage.getItem(SNAPSHOT) || "null");
      if (!snap) return;
      snap.prompts.forEach((p) => prompts.merge(p));
      state.queues = snap.queues;
      state.today = snap.today;
      render();
    } catch (e) { /* a bad snapshot is simply ignored */ }
  }

  function minutesBetween(a, b) {
    return Math.max(0, Math.round((Date.parse(b) - Date.parse(a)) / 60000));
  }

  function promptItem(p) {
    const li = P.el("li", `prompt level-${p.level}${p.escalated ? " escalated" : ""}`);
    li.dataset.id = p.id;
    const head = P.el("div", "prompt-head");
    head.append(P.el("span", "level-word", P.t("level." + p.level)));
    if (p.lane) head.append(P.el("span", "lane-tag", `#${p.lane}`));
    li.append(head, P.el("h3", "prompt-title", p.title), P.el("p", "prompt-body", p.body));
    if (p.taken_by) li.append(P.el("p", "taken", P.t("floor.taken_by", { name: p.taken_by })));
    const buttons = P.el("div", "buttons");
    if (p.status === "open") {
      const take = P.el("button", "take", P.t("floor.take"));
      take.type = "button";
      take.addEventListener("click", () => act(p.id, "ack"));
      buttons.append(take);
    }
    const done = P.el("button", "done", P.t("floor.done"));
    done.type = "button";
    done.addEventListener("click", () => act(p.id, "resolve"));
    buttons.append(done);
    li.append(buttons);
    return li;
  }

  function renderPrompts() {
    const all = [...state.prompts.values()];
    const open = all.filter((p) => p.status === "open" || p.status === "taken");
    open.sort((a, b) => (URGENCY[a.level] - URGENCY[b.level]) || (a.created_at < b.created_at ? 1 : -1));
    $("prompts").replaceChildren(...open.map(promptItem));
    $("no-prompts").hidden = open.length > 0;
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    const resolved = all.filter((p) => p.status === "resolved" && Date.parse(p.resolved_at) >= midnight);
    resolved.sort((a, b) => (a.resolved_at < b.resolved_at ? 1 : -1));
    $("resolved").replaceChildren(...resolved.slice(0, 30).map((p) => {
      const li = P.el("li", "resolved-item", p.title);
      const mins = minutesBetween(p.created_at, p.taken_at || p.resolved_at);
      li.append(P.el("span", "time-to-act", " · " + P.t("floor.time_to_act", { minutes: P.number(mins) }) +
        (p.resolved_by ? ` · ${p.resolved_by}` : "")));
      return li;
    }));
  }

  function chart(lane) {
    // Today's length (line) against the normal band (shaded), drawn as SVG.
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 240 60");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `lane ${lane}`);
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
    $("reach").textContent = P.t("floor.reach", { reach: P.number(q.waiting_reach) });
    $("recommendation").textContent = q.recommendation.reason;
    $("lanes").replaceChildren(...q.lanes.map((l) => {
      const card = P.el("article", `lane status-${l.status}${l.open ? "" : " closed"}`);
      const head = P.el("div", "lane-head");
      head.append(P.el("span", "lane-tag", `#${l.lane}`),
        P.el("span", "status-word", l.open ? P.t("status." + l.status) : P.t("floor.closed")));
      card.append(head,
        P.el("p", "lane-length", P.t("floor.length", { length: P.number(l.length), normal: P.number(l.normal) })),
        P.el("p", "lane-wait", P.t("floor.wait", { minutes: P.number(Math.round(l.wait_s / 60)) })),
        chart(l.lane));
      return card;
    }));
  }

  function render() {
    renderPrompts();
    renderLanes();
  }

  async function reloadQueues() {
    [state.queues, state.today] = await Promise.all([
      P.api("GET", "/api/v1/queues"), P.api("GET", "/api/v1/queues/today")]);
    renderLanes();
    save();
  }

  async function reload() {
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    prompts.begin();
    const [open, taken, resolved] = await Promise.all([
      P.api("GET", "/api/v1/prompts?status=open"), P.api("GET", "/api/v1/prompts?status=taken"),
      P.api("GET", `/api/v1/prompts?status=resolved&since=${encodeURIComponent(midnight.toISOString())}`)]);
    prompts.replace([...open.prompts, ...taken.prompts, ...resolved.prompts]);
    renderPrompts();
    await reloadQueues();
  }

  async function act(id, action) {
    onPrompt(await P.api("POST", `/api/v1/prompts/${id}/${action}`, { by: me() }));
  }

  function onPrompt(prompt) {
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
    const body = { kind: $("pain-kind").value, by: me() };
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

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }

  P.loadMessages().then(() => {
    restore();
    if (!P.token) {
      $("no-prompts").textContent = P.t("no_token");
      return;
    }
    P.live({ reload: () => reload().catch(() => {}), prompt: onPrompt, queue: onQueue });
  });
})();
