// The head office page's holdout experiment: per service level and outcome,
// both arms, the difference served − held out with its 95 % interval (drawn
// against zero), and "not enough data yet" with how many more customers are
// needed, from GET /hq/v1/experiment. Its own block so the rest of the page
// does not depend on it.
"use strict";

(() => {
  const P = Posplugin;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;
  let last = null;

  const percent = (v) => (v === null ? "–" : `${P.number(Math.round(v * 1000) / 10)} %`);
  const points = (v) => `${v > 0 ? "+" : ""}${P.number(Math.round(v * 1000) / 10)}`;
  const money = (v) => (v === null ? "–" : P.number(Math.round(v * 100) / 100));
  const signedMoney = (v) => `${v > 0 ? "+" : ""}${money(v)}`;

  function arm(r, side) {
    const a = r[side];
    return r.kind === "rate"
      ? P.t("hq.arm_rate", { rate: percent(a.rate), n: P.number(a.n) })
      : P.t("hq.arm_mean", { mean: money(a.mean), n: P.number(a.n) });
  }

  function difference(r) {
    if (r.difference === null) return "–";
    const f = r.kind === "rate" ? points : signedMoney;
    return P.t(r.kind === "rate" ? "hq.difference_points" : "hq.difference_money",
      { d: f(r.difference), low: f(r.low), high: f(r.high) });
  }

  function bar(r, scale) {
    // The interval on a common scale for the table, zero dashed in the middle.
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 160 18");
    svg.setAttribute("class", "interval-bar");
    svg.setAttribute("aria-hidden", "true");
    if (r.difference === null || !scale) return svg;
    const x = (v) => 80 + (v / scale) * 76;
    const parts = [["line", { class: "zero", x1: 80, x2: 80, y1: 1, y2: 17 }],
      ["line", { class: "span", x1: x(r.low), x2: x(r.high), y1: 9, y2: 9 }],
      ["circle", { class: "point", cx: x(r.difference), cy: 9, r: 3.5 }]];
    for (const [tag, attrs] of parts) {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      svg.append(node);
    }
    return svg;
  }

  function verdict(r, detect) {
    if (!r.enough) {
      // The planned sample is not there yet; an interval already clear of
      // zero is an early sign, not yet the answer (stopping at the first good
      // look overstates effects).
      const early = r.low > 0 ? "hq.early_uplift" : r.high < 0 ? "hq.early_lower" : "hq.not_enough";
      return P.t(early, { more: P.number(r.more_needed),
        detect: r.kind === "rate" ? points(detect).replace("+", "") : "" });
    }
    if (r.low > 0) return P.t("hq.uplift");
    if (r.high < 0) return P.t("hq.lower");
    return P.t("hq.no_clear_difference");
  }

  function row(r, data, scales) {
    const tr = P.el("tr");
    tr.dataset.level = r.level;
    tr.dataset.metric = r.metric;
    if (!r.enough) tr.classList.add("enough-no");
    if (r.significant) tr.classList.add("significant");
    const level = P.el("th", null, P.t(`level.${r.level}`));
    level.scope = "row";
    const chart = P.el("td", "interval");
    chart.append(bar(r, scales[r.metric]));
    tr.append(level, P.el("td", "wrap", P.t("hq.metric." + r.metric)), P.el("td", "num", arm(r, "served")),
      P.el("td", "num", arm(r, "holdout")), P.el("td", "num difference", difference(r)), chart,
      P.el("td", "verdict wrap", verdict(r, data.detect)));
    return tr;
  }

  function render(data) {
    const e = data.experiment;
    $("experiment-summary").textContent = !e ? P.t("hq.no_experiment")
      : P.t(e.running ? "hq.experiment_running" : "hq.experiment_stopped", {
        name: e.name, share: percent(e.holdout_share),
        since: P.date(e.started_at), until: e.stopped_at ? P.date(e.stopped_at) : "" });
    const names = $("experiment-name");
    const chosen = e ? e.name : "";
    names.replaceChildren(...data.experiments.map((x) => {
      const option = P.el("option", null, x.name + (x.running ? " ●" : ""));
      option.value = x.name;
      option.selected = x.name === chosen;
      return option;
    }));
    const scope = $("experiment-scope");
    const stores = [...new Set(data.results.filter((r) => r.store).map((r) => r.store))];
    const current = scope.value;
    const chain = P.el("option", null, P.t("hq.chain"));
    chain.value = "";
    scope.replaceChildren(chain, ...stores.map((s) => {
      const option = P.el("option", null, s);
      option.value = s;
      option.selected = s === current;
      return option;
    }));
    const lines = data.results.filter((r) => (r.store || "") === scope.value);
    const scales = {};
    for (const r of lines) {
      if (r.difference === null) continue;
      scales[r.metric] = Math.max(scales[r.metric] || 0, Math.abs(r.low), Math.abs(r.high));
    }
    $("uplift").tBodies[0].replaceChildren(...lines.map((r) => row(r, data, scales)));
    P.labelCells($("uplift"));
    // How the figures are worked out, in the page's language (the API's "method" says it in English).
    $("experiment-method").textContent = P.t("hq.method");
  }

  async function loadExperiment() {
    const name = $("experiment-name").value;
    last = await P.api("GET", "/hq/v1/experiment" + (name ? `?name=${encodeURIComponent(name)}` : ""));
    render(last);
  }

  function report(e) {
    $("experiment-summary").textContent = e.message;
  }

  P.loadMessages().then(() => {
    if (!P.token) return;
    $("experiment-name").addEventListener("change", () => loadExperiment().catch(report));
    $("experiment-scope").addEventListener("change", () => last && render(last));
    loadExperiment().catch(report);
    setInterval(() => loadExperiment().catch(report), REFRESH_MS);
  });
})();
