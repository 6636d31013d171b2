// The head office page's customer side: how many joined, the metrics
// collector's progress and failures per platform, and the last build.
"use strict";

(() => {
  const P = Posplugin;
  const $ = (id) => document.getElementById(id);
  const fmt = (n) => P.number(n || 0);

  async function load() {
    let data;
    try {
      data = await P.api("GET", "/hq/v1/metrics/status");
    } catch (e) {
      return;  // hq.js shows sign-in problems
    }
    const build = data.last_build;
    $("customers-summary").textContent = P.t("hq.customers_summary", { customers: fmt(data.customers) }) + " " +
      (build ? P.t("hq.last_build", { version: build.version, customers: fmt(build.customers),
        when: P.dateTime(build.at) }) : P.t("hq.no_build"));
    const rows = Object.entries(data.platforms).sort().map(([name, p]) => {
      const tr = P.el("tr");
      const th = P.el("th", null, name);
      th.scope = "row";
      tr.append(th);
      for (const n of [p.linked, p.measured, p.due, p.failing, p.revoked]) tr.append(P.el("td", "num", fmt(n)));
      tr.append(P.el("td", null, p.paused_for_s ? P.t("hq.minutes", { n: P.number(Math.round(p.paused_for_s / 60)) }) : "–"));
      if (p.failing || p.paused_for_s) tr.classList.add("stale");
      return tr;
    });
    $("metrics").tBodies[0].replaceChildren(...rows);
    P.labelCells($("metrics"));
    $("metrics-errors").replaceChildren(...data.recent_errors.map((e) =>
      P.el("li", null, `${e.platform}: ${e.error}`)));
  }

  P.loadMessages().then(() => {
    if (!P.token) return;
    load();
    setInterval(load, 30000);
  });
})();
