// The head office page's listening inbox: everything heard, per store and
// for the chain, with the time from post to the floor's prompt, to taken,
// resolved and replied online, from GET /hq/v1/heard. "Replied" records an
// online answer; "Ask to share" sends a consented customer's praise an
// invitation. Its own block so the rest of the page does not depend on it.
"use strict";

(() => {
  const P = Posplugin;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 15000;
  const SHOWN = 20;  // the newest posts; the rest are counted (GET /hq/v1/heard has them all)
  let last = null;

  const duration = P.duration;  // as the rest of the page says them

  function actions(h) {
    const box = P.el("td", "heard-actions");
    if (!h.replied_at) {
      const reply = P.el("button", "heard-reply", P.t("hq.heard_reply"));
      reply.type = "button";
      reply.addEventListener("click", () => act(`/hq/v1/heard/${h.id}/reply`, { by: "head office" }));
      box.append(reply);
    }
    if (h.tone === "praise" && h.from_customer && !h.share_asked_at) {
      const share = P.el("button", "heard-share", P.t("hq.heard_share"));
      share.type = "button";
      share.addEventListener("click", () => act(`/hq/v1/heard/${h.id}/share`));
      box.append(share);
    }
    return box;
  }

  function row(h) {
    const tr = P.el("tr", `heard-row tone-${h.tone}`);
    tr.dataset.id = h.id;
    const post = P.el("td", "heard-post wrap");
    const text = P.el("span", "heard-excerpt", h.excerpt || "–");
    post.append(text, P.el("span", "heard-source muted",
      ` · ${h.source} · ${P.t("hq.heard_routed." + h.routed_by)}`));
    const what = [P.t("me.heard_about." + h.about), P.t("floor.heard_tone." + h.tone)];
    if (h.lane) what.push(P.t("hq.heard_lane", { lane: h.lane }));
    tr.append(P.el("td", null, P.dateTime(h.posted_at)),
      P.el("td", null, h.store || P.t("hq.heard_inbox")), post,
      P.el("td", "wrap", what.join(" · ")),
      P.el("td", "heard-status", P.t("hq.heard_status." + h.status)),
      P.el("td", "heard-times wrap", [h.to_prompt_s, h.to_taken_s, h.to_resolved_s, h.to_replied_s].map(duration).join(" · ")),
      actions(h));
    return tr;
  }

  function render(data) {
    const scope = $("heard-store");
    const current = scope.value;
    const chain = P.el("option", null, P.t("hq.heard_chain"));
    chain.value = "";
    scope.replaceChildren(chain, ...Object.keys(data.figures.stores).map((s) => {
      const option = P.el("option", null, s);
      option.value = s;
      option.selected = s === current;
      return option;
    }));
    const figures = scope.value ? data.figures.stores[scope.value] : data.figures.chain;
    $("heard-summary").textContent = P.t("hq.heard_summary", { heard: P.number(figures.heard),
      complaints: P.number(figures.complaints), praise: P.number(figures.praise),
      median: duration(figures.to_prompt.median_s), p95: duration(figures.to_prompt.p95_s) });
    const rows = data.heard.filter((h) => !scope.value || h.store === scope.value);
    $("heard-table").tBodies[0].replaceChildren(...rows.slice(0, SHOWN).map(row));
    P.labelCells($("heard-table"));
    $("heard-more").hidden = rows.length <= SHOWN;
    $("heard-more").textContent = P.t("hq.heard_more", { count: P.number(rows.length - SHOWN) });
  }

  async function load() {
    last = await P.api("GET", "/hq/v1/heard");
    render(last);
  }

  async function act(path, body) {
    try {
      await P.api("POST", path, body);
      await load();
    } catch (e) {
      $("heard-summary").textContent = e.message;
    }
  }

  P.loadMessages().then(() => {
    if (!P.token) return;
    $("heard-store").addEventListener("change", () => last && render(last));
    load().catch((e) => { $("heard-summary").textContent = e.message; });
    setInterval(() => load().catch(() => {}), REFRESH_MS);
  });
})();
