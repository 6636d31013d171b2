// The cashier's card: the newest open service (or amplify) prompt for this
// lane. The level, the name, a one-line action and both buttons always fit
// the card (down to 480x320 and 320x480); who the customer is and what they
// are into are a tap away when space is short.
"use strict";

(() => {
  const P = Posplugin;
  const params = new URLSearchParams(location.search);
  const lane = params.get("lane") || "1";
  const me = () => localStorage.getItem("posplugin.name") || P.t("lane", { lane });
  let current = null;
  let loaded = false;
  let alerts = null;
  const seen = new Set();
  const prompts = P.promptStore();

  const $ = (id) => document.getElementById(id);

  function mine(prompt) {
    return String(prompt.lane) === String(lane) &&
      (prompt.kind === "service" || prompt.kind === "amplify");
  }

  function showDetails(open) {
    $("card").classList.toggle("show-details", open);
    $("more").setAttribute("aria-expanded", String(open));
    $("more").textContent = P.t(open ? "till.hide_details" : "till.details");
  }

  function show(prompt) {
    const changed = (prompt && prompt.id) !== (current && current.id);
    current = prompt && ["open", "taken"].includes(prompt.status) ? prompt : null;
    const card = $("card");
    card.className = "card level-" + (current ? current.level : "none") + (card.classList.contains("show-details") ? " show-details" : "");
    if (changed) showDetails(false);
    $("lane").textContent = P.t("lane", { lane });
    $("empty").hidden = !!current;
    $("more").hidden = !current;
    $("ack").disabled = !current || current.status !== "open";
    $("resolve").disabled = !current;
    $("level").textContent = current ? P.t("level." + current.level) : P.t("till.title");
    $("name").textContent = current ? (current.display_name || current.title) : "";
    $("action").textContent = current ? (current.short_action || current.action || "") : "";
    $("who").textContent = current ? (current.who || current.body) : "";
    $("full-action").textContent = current && current.action && current.action !== current.short_action ? current.action : "";
    // The customer showed their pass: this is the person the tier belongs to.
    $("verified").textContent = current && current.verified ? P.t("till.verified") : "";
    $("taken").textContent = current && current.taken_by ? P.t("till.taken_by", { name: current.taken_by }) : "";
    const niches = $("niches");
    niches.replaceChildren(...(current && current.niches ? current.niches : []).map((n) => P.el("li", "niche", n)));
    document.title = (current && current.status === "open" ? "(1) " : "") + P.t("lane", { lane }) + " · posplugin";
  }

  function showNewest() {
    // The newest live prompt for this lane; one resolved elsewhere drops out.
    const live = [...prompts.map.values()].filter((p) => ["open", "taken"].includes(p.status));
    live.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    show(live[0] || null);
  }

  function maybeAlert(prompt) {
    if (seen.has(prompt.id)) return;
    seen.add(prompt.id);
    if (loaded && prompt.status === "open" && alerts) alerts.fire();
  }

  async function reload() {
    prompts.begin();
    const data = await P.api("GET", `/api/v1/prompts?lane=${encodeURIComponent(lane)}`);
    const list = data.prompts.filter(mine);
    list.forEach(maybeAlert);
    loaded = true;
    prompts.replace(list);
    showNewest();
  }

  function onPrompt(prompt) {
    if (!mine(prompt)) return;
    maybeAlert(prompt);
    prompts.merge(prompt);
    showNewest();
  }

  async function act(action) {
    if (!current) return;
    const body = { by: me() };
    onPrompt(await P.api("POST", `/api/v1/prompts/${current.id}/${action}`, body));
  }

  $("ack").addEventListener("click", () => act("ack"));
  $("resolve").addEventListener("click", () => act("resolve"));
  $("more").addEventListener("click", () => showDetails(!$("card").classList.contains("show-details")));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey) return;
    if (e.key === "o" || e.key === "O") act("ack");
    if (e.key === "d" || e.key === "D") act("resolve");
  });

  P.loadMessages().then(() => {
    // Off unless this device turned it on, or the page was opened with ?alerts=on (embed.js data-alerts).
    alerts = PospluginAlert.create({ key: "posplugin.alerts.till", defaultOn: params.get("alerts") === "on",
      button: $("sound"), hint: $("sound-hint") });
    show(null);
    if (!P.token) {
      $("empty").textContent = P.t("no_token");
      return;
    }
    P.live({ reload, prompt: onPrompt });
  });
})();
