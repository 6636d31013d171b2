// The cashier's card: the newest open service (or amplify) prompt for this lane.
"use strict";

(() => {
  const P = Posplugin;
  const lane = new URLSearchParams(location.search).get("lane") || "1";
  const me = () => localStorage.getItem("posplugin.name") || `Lane ${lane}`;
  let current = null;
  const prompts = P.promptStore();

  const $ = (id) => document.getElementById(id);

  function mine(prompt) {
    return String(prompt.lane) === String(lane) &&
      (prompt.kind === "service" || prompt.kind === "amplify");
  }

  function show(prompt) {
    current = prompt && ["open", "taken"].includes(prompt.status) ? prompt : null;
    const card = $("card");
    card.className = "card level-" + (current ? current.level : "none");
    $("lane").textContent = `#${lane}`;
    $("empty").hidden = !!current;
    $("ack").disabled = !current || current.status !== "open";
    $("resolve").disabled = !current;
    $("level").textContent = current ? P.t("level." + current.level) : P.t("till.title");
    $("name").textContent = current ? (current.display_name || current.title) : "";
    $("who").textContent = current ? (current.who || current.body) : "";
    $("action").textContent = current ? (current.action || "") : "";
    // The customer showed their pass: this is the person the tier belongs to.
    $("verified").textContent = current && current.verified ? P.t("till.verified") : "";
    $("taken").textContent = current && current.taken_by ? P.t("till.taken_by", { name: current.taken_by }) : "";
    const niches = $("niches");
    niches.replaceChildren(...(current && current.niches ? current.niches : []).map((n) => P.el("li", "niche", n)));
  }

  function showNewest() {
    // The newest live prompt for this lane; one resolved elsewhere drops out.
    const live = [...prompts.map.values()].filter((p) => ["open", "taken"].includes(p.status));
    live.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    show(live[0] || null);
  }

  async function reload() {
    prompts.begin();
    const data = await P.api("GET", `/api/v1/prompts?lane=${encodeURIComponent(lane)}`);
    prompts.replace(data.prompts.filter(mine));
    showNewest();
  }

  function onPrompt(prompt) {
    if (!mine(prompt)) return;
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
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey) return;
    if (e.key === "o" || e.key === "O") act("ack");
    if (e.key === "d" || e.key === "D") act("resolve");
  });

  P.loadMessages().then(() => {
    show(null);
    if (!P.token) {
      $("empty").textContent = P.t("no_token");
      return;
    }
    P.live({ reload, prompt: onPrompt });
  });
})();
