// The head office page: every store's list version, last sync and figures
// (stale and behind stores stand out), a chart of one figure over recent
// days, and publishing a new tier CSV. Needs an hq admin token, paired
// through the URL fragment like the store pages (/hq#token=...).
"use strict";

(() => {
  const P = Posplugin;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;
  const fmt = (n) => (n === null || n === undefined ? "–" : P.number(n));
  // Durations in seconds: short ones in seconds, the rest in minutes.
  const duration = (s) => (s === null || s === undefined ? "–"
    : s < 90 ? P.t("hq.seconds", { n: P.number(Math.round(s)) })
      : P.t("hq.minutes", { n: P.number(Math.round(s / 6) / 10) }));

  function showError(message) {
    $("error").hidden = !message;
    $("error").textContent = message || "";
  }

  function ago(iso) {
    if (!iso) return P.t("hq.never");
    const mins = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    return mins < 120 ? P.t("hq.minutes_ago", { n: P.number(mins) })
      : P.t("hq.hours_ago", { n: P.number(Math.round(mins / 60)) });
  }

  function row(store) {
    const tr = P.el("tr");
    tr.dataset.store = store.name;
    if (store.stale) tr.classList.add("stale");
    if (store.behind) tr.classList.add("behind");
    const name = P.el("th", null, store.name);
    name.scope = "row";
    if (store.stale) name.append(P.el("span", "badge badge-stale", P.t("hq.stale")));
    else if (store.behind) name.append(P.el("span", "badge badge-behind", P.t("hq.behind")));
    const f = store.figures;
    tr.append(name, P.el("td", null, fmt(store.list_version)), P.el("td", null, ago(store.last_sync_at)));
    for (const value of [fmt(f.prompts_made), fmt(f.taken), duration(f.median_time_to_act_s),
      fmt(f.pain_episodes), duration(f.median_pain_minutes === null ? null : f.median_pain_minutes * 60),
      fmt(f.reach_served_murdoch)]) {
      tr.append(P.el("td", "num", value));
    }
    return tr;
  }

  async function loadStores() {
    const data = await P.api("GET", `/hq/v1/stores?days=${$("days").value}`);
    $("stores").tBodies[0].replaceChildren(...data.stores.map(row));
    $("no-stores").hidden = data.stores.length > 0;
    $("latest").textContent = data.latest
      ? P.t("hq.latest", { version: data.latest.version, rows: P.number(data.latest.rows) }) : P.t("hq.no_list");
    $("versions").replaceChildren(...data.versions.map((v) => P.el("li", null,
      P.t("hq.version_line", { version: v.version, rows: P.number(v.rows), when: new Date(v.created_at).toLocaleString(P.lang) }) +
      (v.delta ? " · " + P.t("hq.delta_line", { upserts: P.number(v.delta.upserts), deletes: P.number(v.delta.deletes) }) : ""))));
  }

  function drawChart(data) {
    // One line per store, days along the bottom, the largest value at the top.
    const svg = $("chart");
    const W = 640, H = 220, L = 48, B = 24, T = 8;
    const names = Object.keys(data.stores);
    const values = names.flatMap((n) => data.stores[n].filter((v) => v !== null));
    const top = Math.max(1, ...values);
    const x = (i) => L + (data.days.length === 1 ? 0 : (i / (data.days.length - 1)) * (W - L - 28));
    const y = (v) => H - B - (v / top) * (H - B - T);
    const parts = [];
    for (const v of [0, top / 2, top]) {
      const tick = document.createElementNS(NS, "text");
      tick.setAttribute("x", L - 6); tick.setAttribute("y", y(v) + 4); tick.setAttribute("class", "tick");
      tick.textContent = P.number(Math.round(v * 10) / 10);
      const rule = document.createElementNS(NS, "line");
      rule.setAttribute("x1", L); rule.setAttribute("x2", W - 8); rule.setAttribute("y1", y(v)); rule.setAttribute("y2", y(v));
      rule.setAttribute("class", "rule");
      parts.push(rule, tick);
    }
    data.days.forEach((day, i) => {
      if (i % Math.ceil(data.days.length / 7) && i !== data.days.length - 1) return;
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", x(i)); label.setAttribute("y", H - 6); label.setAttribute("class", "day");
      label.textContent = day.slice(5);
      parts.push(label);
    });
    $("legend").replaceChildren();
    names.forEach((name, n) => {
      const line = document.createElementNS(NS, "polyline");
      const points = data.stores[name].map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`));
      line.setAttribute("points", points.filter(Boolean).join(" "));
      line.setAttribute("class", `series series-${n % 6}`);
      line.dataset.store = name;
      parts.push(line);
      $("legend").append(P.el("span", `key series-${n % 6}`, name));
    });
    svg.replaceChildren(...parts);
  }

  async function loadChart() {
    drawChart(await P.api("GET", `/hq/v1/chart?figure=${$("figure").value}&days=14`));
  }

  async function refresh() {
    try {
      await Promise.all([loadStores(), loadChart()]);
      showError(null);
    } catch (e) {
      showError(e.message);
    }
  }

  async function upload(event) {
    event.preventDefault();
    const file = $("file").files[0];
    if (!file) return;
    $("upload-result").textContent = P.t("hq.uploading");
    $("upload-problems").replaceChildren();
    const response = await fetch("/hq/v1/imports", {
      method: "POST", body: file,
      headers: { Authorization: `Bearer ${P.token}`, "Content-Type": "text/csv" },
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      $("upload-result").textContent = P.t("hq.published", { version: data.version, rows: P.number(data.rows) });
      $("upload").reset();
      refresh();
    } else {
      const error = data.error || {};
      $("upload-result").textContent = error.message || response.statusText;
      $("upload-problems").replaceChildren(...(error.problems || []).map((p) =>
        P.el("li", null, P.t("hq.problem", { line: p.line, reason: p.reason }))));
    }
  }

  P.loadMessages().then(() => {
    if (!P.token) { showError(P.t("hq.no_token")); return; }
    $("days").addEventListener("change", refresh);
    $("figure").addEventListener("change", () => loadChart().catch((e) => showError(e.message)));
    $("upload").addEventListener("submit", (e) => upload(e).catch((err) => showError(err.message)));
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();
