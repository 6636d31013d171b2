// The head office page: the chain's totals over the chosen period, every
// store's list version, last sync and figures (stale and behind stores stand
// out; the table downloads as CSV), a chart of one figure per day of the
// period or per hour of one day, and publishing a new tier CSV. Needs an hq
// admin token, paired through the URL fragment like the store pages
// (/hq#token=...).
//
// The page is a list of sections (SECTIONS below), each an object with
// refresh(period) that draws its part of the page; a new section adds its
// markup to hq.html and its object to SECTIONS.
"use strict";

(() => {
  const P = Posplugin;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;
  const VERSIONS_SHOWN = 5;
  const fmt = (n) => (n === null || n === undefined ? "–" : P.number(n));
  const rate = (r) => (r === null || r === undefined ? "–" : P.t("hq.percent", { n: P.number(Math.round(r * 100)) }));
  const duration = P.duration;
  const period = () => Number($("days").value);

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
    [fmt(f.prompts_made), fmt(f.taken), rate(f.taken_rate), duration(f.median_time_to_act_s),
      fmt(f.pain_episodes), duration(f.median_pain_minutes === null ? null : f.median_pain_minutes * 60),
      fmt(f.reach_served_murdoch)].forEach((value) => tr.append(P.el("td", "num", value)));
    return tr;
  }

  function totals(t, days) {
    const items = [
      ["stores", P.t("hq.total_stores"), fmt(t.stores)],
      ["prompts_made", P.t("hq.prompts_made"), fmt(t.prompts_made)],
      ["taken_rate", P.t("hq.taken_rate"), rate(t.taken_rate)],
      ["median_time_to_act", P.t("hq.median_time_to_act"), duration(t.median_time_to_act_s)],
      ["pain_episodes", P.t("hq.pain_episodes"), fmt(t.pain_episodes)],
      ["reach_murdoch", P.t("hq.reach_murdoch"), fmt(t.reach_served_murdoch)],
    ];
    $("totals").replaceChildren(...items.map(([key, label, value]) => {
      const box = P.el("div", "total");
      box.dataset.total = key;
      box.append(P.el("dt", null, label), P.el("dd", null, value));
      return box;
    }));
    $("h-totals").textContent = P.t("hq.totals_over", { period: P.t(`hq.days_${days}`) });
  }

  const storesSection = {
    async refresh(days) {
      const data = await P.api("GET", `/hq/v1/stores?days=${days}`);
      $("stores").tBodies[0].replaceChildren(...data.stores.map(row));
      P.labelCells($("stores"));
      $("no-stores").hidden = data.stores.length > 0;
      totals(data.totals, days);
      $("latest").textContent = data.latest
        ? P.t("hq.latest", { version: data.latest.version, rows: P.number(data.latest.rows) }) : P.t("hq.no_list");
      versions(data.versions, data.latest);
    },
  };

  // The last few versions, newest first, and how many came before them.
  function versions(list, latest) {
    const shown = list.slice(0, VERSIONS_SHOWN);
    $("versions").replaceChildren(...shown.map((v) => {
      const li = P.el("li", null, P.t("hq.version_line", { version: v.version, rows: P.number(v.rows),
        when: P.dateTime(v.created_at) }) +
        (v.delta ? " · " + P.t("hq.delta_line", { upserts: P.number(v.delta.upserts), deletes: P.number(v.delta.deletes) }) : ""));
      li.value = v.version;
      return li;
    }));
    const earlier = latest && shown.length ? shown[shown.length - 1].version - 1 : 0;
    $("versions-more").textContent = earlier > 0 ? P.t("hq.versions_more", { count: P.number(earlier) }) : "";
  }

  async function exportCsv() {
    // Fetched with the token (a plain link cannot send it), then saved as a file.
    const days = period();
    const response = await fetch(`/hq/v1/stores.csv?days=${days}`, { headers: { Authorization: `Bearer ${P.token}` } });
    if (!response.ok) throw new Error(response.statusText);
    const url = URL.createObjectURL(await response.blob());
    const link = P.el("a");
    link.href = url;
    link.download = `posplugin-stores-${days}-days.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // -- the chart ----------------------------------------------------------------------

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  let lastChart = null;

  function drawChart(data, labels) {
    // One line per store (broken where it has no value: before it existed,
    // hours to come), periods along the bottom, the largest value at the top.
    // Drawn in the pixels it is shown at (a phone's 360 or a laptop's 900), so
    // the axes' words keep their size.
    lastChart = [data, labels];
    const W = Math.round(Math.max(280, Math.min(900, $("chart").parentElement.clientWidth || 640)));
    const H = W < 480 ? 200 : 240, L = 44, B = 24, T = 10;
    $("chart").setAttribute("viewBox", `0 0 ${W} ${H}`);
    const names = Object.keys(data.stores);
    const values = names.flatMap((n) => data.stores[n].filter((v) => v !== null));
    const ratio = data.figure === "taken_rate";
    const top = ratio ? 1 : Math.max(1, ...values);
    const n = labels.length;
    const x = (i) => L + (n === 1 ? (W - L - 28) / 2 : (i / (n - 1)) * (W - L - 28));
    const y = (v) => H - B - (v / top) * (H - B - T);
    const parts = [];
    for (const v of [0, top / 2, top]) {
      parts.push(svg("line", { x1: L, x2: W - 8, y1: y(v), y2: y(v), class: "rule" }),
        svg("text", { x: L - 6, y: y(v) + 4, class: "tick" }, ratio ? rate(v) : P.number(top >= 10 ? Math.round(v) : Math.round(v * 10) / 10)));
    }
    const every = Math.ceil(n / Math.max(2, Math.floor((W - L) / 70)));
    labels.forEach((label, i) => {
      if (i % every && i !== n - 1) return;
      parts.push(svg("text", { x: x(i), y: H - 6, class: "day" }, label));
    });
    $("legend").replaceChildren();
    names.forEach((name, s) => {
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          const line = svg("polyline", { points: run.join(" "), class: `series series-${s % 6}` });
          line.dataset.store = name;
          parts.push(line);
        } else if (run.length === 1) {
          const [cx, cy] = run[0].split(",");
          const dot = svg("circle", { cx, cy, r: 4, class: `dot series-${s % 6}` });
          dot.dataset.store = name;
          parts.push(dot);
        }
        run = [];
      };
      data.stores[name].forEach((v, i) => (v === null ? flush() : run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`)));
      flush();
      $("legend").append(P.el("span", `key series-${s % 6}`, name));
    });
    $("chart").replaceChildren(...parts);
  }

  function todayIso() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }

  const chartSection = {
    async refresh(days) {
      const figure = $("figure").value;
      const figureName = $("figure").selectedOptions[0].textContent;
      // One day's period is shown hour by hour: a single point says little.
      const hourly = $("view").value === "hours" || days === 1;
      $("day-label").hidden = !hourly;
      if (hourly) {
        if (!$("day").value) $("day").value = todayIso();
        const data = await P.api("GET", `/hq/v1/chart?figure=${figure}&day=${$("day").value}`);
        $("h-chart").textContent = P.t("hq.chart_hours", { figure: figureName, day: P.date(data.day + "T12:00:00") });
        drawChart(data, data.hours.map((h) => h.slice(0, 2)));
      } else {
        const data = await P.api("GET", `/hq/v1/chart?figure=${figure}&days=${days}`);
        $("h-chart").textContent = P.t("hq.chart_days", { figure: figureName, period: P.t(`hq.days_${days}`) });
        drawChart(data, data.days.map((d) => P.dayMonth(d + "T12:00:00")));
      }
    },
  };

  // -- publishing a list ---------------------------------------------------------------

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

  // -- the page -------------------------------------------------------------------------

  const SECTIONS = [storesSection, chartSection];

  async function refresh(only) {
    try {
      await Promise.all((only ? [only] : SECTIONS).map((section) => section.refresh(period())));
      showError(null);
    } catch (e) {
      showError(e.message);
    }
  }

  P.loadMessages().then(() => {
    if (!P.token) { showError(P.t("hq.no_token")); return; }
    $("days").addEventListener("change", () => refresh());
    for (const id of ["figure", "view", "day"]) $(id).addEventListener("change", () => refresh(chartSection));
    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(() => { if (lastChart) drawChart(...lastChart); }, 150);
    });
    $("export").addEventListener("click", () => exportCsv().catch((err) => showError(err.message)));
    $("upload").addEventListener("submit", (e) => upload(e).catch((err) => showError(err.message)));
    refresh();
    setInterval(() => refresh(), REFRESH_MS);
  });
})();
