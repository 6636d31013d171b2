// The cashier's card: what to do for the customer in front of the till now,
// the newest live service prompt for this lane (a pass to see, a level of
// service). Never an after-sale prompt: those are the floor's. The level, the
// name, a one-line action and both buttons always fit the card (down to
// 480x320 and 320x480) and grow with the screen; who the customer is and
// what they are into are a tap away when space is short.
"use strict";

(() => {
  const P = Posplugin;
  const params = new URLSearchParams(location.search);
  const lane = params.get("lane") || "1";
  // Who presses On it here: the cashier's own name where the device knows one, else this till.
  const me = () => localStorage.getItem("posplugin.name") || P.t("till.by", { lane });
  let current = null;
  let loaded = false;
  let alerts = null;
  const seen = new Set();
  const prompts = P.promptStore();

  const $ = (id) => document.getElementById(id);

  function mine(prompt) {
    return String(prompt.lane) === String(lane) && prompt.kind === "service";
  }

  // The one line the card always shows: the prompt's own, else its level's.
  const actionLine = (p) => p.short_action || p.action || P.t("till.action." + p.level);

  function takenWords(p) {
    if (!p.taken_by) return "";
    return p.taken_by === me() ? P.t("till.taken_here") : P.t("till.taken_by", { name: p.taken_by });
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
    $("ack").disabled = !current || current.status !== "open";
    $("resolve").disabled = !current;
    $("level").textContent = current ? P.t("level." + current.level) : P.t("till.title");
    $("name").textContent = current ? (current.display_name || current.title) : "";
    $("action").textContent = current ? actionLine(current) : "";
    $("who").textContent = current ? (current.who || current.body) : "";
    $("full-action").textContent = current && current.action && current.action !== actionLine(current) ? current.action : "";
    // The customer showed their pass: this is the person the tier belongs to.
    $("verified").textContent = current && current.verified ? P.t("till.verified") : "";
    $("taken").textContent = current ? takenWords(current) : "";
    const niches = $("niches");
    // Interests in the store's language where the prompt has them (the common ones are translated).
    const interests = current ? current.interests || current.niches || [] : [];
    niches.replaceChildren(...interests.map((n) => P.el("li", "niche", n)));
    document.title = (current && current.status === "open" ? "(1) " : "") + P.t("lane", { lane }) + " · posplugin";
    fit();
  }

  // Who the customer is shows on the card itself when it fits the window; otherwise behind Details.
  function fit() {
    const card = $("card");
    const content = $("content");
    card.classList.add("roomy");
    const fits = !!current && content.scrollHeight <= content.clientHeight + 1;
    card.classList.toggle("roomy", fits);
    $("more").hidden = !current || fits;
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
    const lanePrompts = (status) => P.api("GET", `/api/v1/prompts?lane=${encodeURIComponent(lane)}&status=${status}`);
    const answers = await Promise.all([lanePrompts("open"), lanePrompts("taken")]);
    const list = answers.flatMap((a) => a.prompts).filter(mine);
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
  window.addEventListener("resize", fit);
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
