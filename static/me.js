// The customer's page: why this tier, the pass, linked accounts, invitations,
// what was heard from them, rights. Signed in by the session cookie of
// /join; every change sends the CSRF token that GET /hq/v1/me returned. Data
// goes on the page with textContent only, never as HTML.
"use strict";

(() => {
  const W = PospluginWords;
  const $ = (id) => document.getElementById(id);
  const t = W.t;
  let lang = W.chooseForCustomer();
  let csrf = "";
  let passTimer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  async function loadMessages() {
    await W.load();
    document.title = t("me.title");
    for (const button of document.querySelectorAll(".lang")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    $("join-link").href = `/join?lang=${lang}`;
    $("link-account").href = `/join?lang=${lang}`;
  }

  async function call(method, path) {
    const headers = method === "GET" ? {} : { "X-CSRF-Token": csrf };
    const response = await fetch(path, { method, headers, credentials: "same-origin" });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function say(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.className = "status" + (isError ? " error" : "");
    status.hidden = false;
  }

  const number = W.number;
  const percent = W.percent;

  function renderFigures(published) {
    const figures = $("figures");
    figures.replaceChildren();
    const rows = published.known ? [
      ["me.f.level", t("level." + published.service_level)],
      ["me.f.tier", t("tier." + published.tier)],
      ["me.f.followers", number(published.followers)],
      ["me.f.engagement", percent(published.engagement_rate)],
      ["me.f.reach", number(published.engaged_reach)],
      ["me.f.niches", (published.interests || published.niches).join(", ") || "—"],
      ["me.f.version", String(published.version)],
    ] : [["me.f.level", t("me.not_listed")]];
    for (const [key, value] of rows) {
      const dt = el("dt", null, t(key));
      const dd = el("dd", null, value);
      dd.dataset.field = key.slice(5);
      figures.append(dt, dd);
    }
  }

  function renderCard(card, published) {
    $("card").hidden = !card;
    if (!card) return;
    $("card").querySelector(".mini-card").className = "mini-card level-" + published.service_level;
    $("card-level").textContent = card.level;
    $("card-who").textContent = card.who;
    $("card-action").textContent = card.action;
    $("card-niches").replaceChildren(...card.niches.map((n) => el("li", "niche", n)));
    $("card-verified").textContent = card.verified;
  }

  function renderAccounts(accounts) {
    $("accounts").replaceChildren(...accounts.map((a) => {
      const item = el("li", "account");
      item.dataset.id = a.id;
      const measured = a.measured_at ? t("me.measured", { when: W.dateTime(a.measured_at) }) : t("me.not_measured");
      const figures = a.followers === null ? "" :
        ` · ${number(a.followers)} ${t("me.followers")} · ${percent(a.engagement_rate || 0)}`;
      const account = [a.platform, a.handle].filter(Boolean).join(" ");
      item.append(el("span", "account-name", `${account}${figures} · ${measured}`), el("br"));
      const refresh = el("button", "refresh", t("me.refresh"));
      refresh.type = "button";
      refresh.addEventListener("click", () => act("POST", `/hq/v1/me/accounts/${a.id}/refresh`, "me.refreshed"));
      const unlink = el("button", "unlink danger", t("me.unlink"));
      unlink.type = "button";
      unlink.addEventListener("click", () => confirmThen(t("me.confirm_unlink", { platform: a.platform }),
        () => act("DELETE", `/hq/v1/me/accounts/${a.id}`, "me.unlinked")));
      item.append(refresh, unlink);
      return item;
    }));
    if (!accounts.length) $("accounts").append(el("li", "muted", t("me.no_accounts")));
  }

  function renderInvitations(invitations) {
    $("no-invitations").hidden = invitations.length > 0;
    $("invitations").replaceChildren(...invitations.map((i) => {
      const item = el("li", "invitation");
      item.append(el("p", null, i.text));
      if (i.disclosure) item.append(el("p", "disclosure", i.disclosure));
      item.append(el("p", "muted", t(i.kind === "heard" ? "me.posted_on" : "me.sold_at",
        { when: W.date(i.sold_at) })));
      return item;
    }));
  }

  function renderHeard(heard) {
    // The customer's own posts, as listening kept them: text, where and when,
    // how it was read; each can be removed (the text is deleted here).
    $("no-heard").hidden = heard.length > 0;
    $("heard-remove-all").hidden = heard.length === 0;
    $("heard").replaceChildren(...heard.map((h) => {
      const item = el("li", "heard-post");
      item.dataset.id = h.id;
      item.append(el("p", "heard-text", h.text));
      item.append(el("p", "muted", t("me.heard_meta", { source: h.source,
        when: W.dateTime(h.posted_at), store: h.store || t("me.heard_chain") })));
      item.append(el("p", "muted", t("me.heard_read_as", { tone: t("me.heard_tone." + h.tone),
        about: t("me.heard_about." + h.about) })));
      if (/^https:\/\//.test(h.url || "")) {
        const link = el("a", null, t("me.heard_open"));
        link.href = h.url;
        link.rel = "noopener noreferrer";
        item.append(link, document.createTextNode(" "));
      }
      const remove = el("button", "heard-remove danger", t("me.heard_remove"));
      remove.type = "button";
      remove.addEventListener("click", () => confirmThen(t("me.confirm_heard_remove"),
        () => act("DELETE", `/hq/v1/me/heard/${h.id}`, "me.heard_removed")));
      item.append(remove);
      return item;
    }));
  }

  function render(data) {
    csrf = data.csrf;
    renderFigures(data.published);
    renderCard(data.card, data.published);
    $("why").replaceChildren(...data.why.map((line) => el("li", null, line)));
    $("staff-see").textContent = data.staff_see;
    $("staff-never-see").textContent = data.staff_never_see;
    renderAccounts(data.accounts);
    renderInvitations(data.invitations);
    renderHeard(data.heard || []);
    $("object").disabled = !data.consent;
    $("audit").replaceChildren(...data.audit.map((a) =>
      el("li", null, `${W.dateTime(a.at)} · ${t("me.audit." + a.action)}${a.detail ? " · " + a.detail : ""}`)));
  }

  function signedOut() {
    $("page").hidden = true;
    $("signed-out").hidden = false;
    return false;
  }

  async function load() {
    try {
      // Asked first in a way that is no error when nobody is signed in (a 401 would be one in the console).
      if (!(await call("GET", "/hq/v1/join/session")).signed_in) return signedOut();
      render(await call("GET", `/hq/v1/me?lang=${lang}`));
    } catch (e) {
      if (e.status === 401) return signedOut();
      say(e.message, true);
      return false;
    }
    $("signed-out").hidden = true;
    $("page").hidden = false;
    return true;
  }

  async function refreshPass() {
    clearTimeout(passTimer);
    let next = 60;
    try {
      const pass = await call("GET", "/hq/v1/me/pass");
      $("qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(pass.qr_svg);
      $("qr").alt = t("me.pass_alt");
      $("qr").dataset.pass = pass.pass;
      $("pass-expiry").textContent = t("me.pass_until", { time: W.time(pass.expires_at) });
      next = pass.refresh_s;
    } catch (e) {
      if (e.status === 401) return;
      if (e.status === 403) {  // no consent in force: no pass, and none on screen
        $("qr").removeAttribute("src");
        delete $("qr").dataset.pass;
        $("pass-expiry").textContent = t("me.pass_none");
        return;
      }
      $("pass-expiry").textContent = t("me.pass_offline");
      next = 10;
    }
    // A page in the background does not need a fresh pass until it is seen again.
    passTimer = setTimeout(() => { if (!document.hidden) refreshPass(); }, next * 1000);
  }

  // Only a signed-in page has a pass to renew (a signed-out one would only get a 401).
  document.addEventListener("visibilitychange", () => { if (!document.hidden && !$("page").hidden) refreshPass(); });

  let pending = null;

  function confirmThen(text, action) {
    pending = action;
    $("confirm-text").textContent = text;
    $("confirm").hidden = false;
    $("confirm-yes").focus();
  }

  $("confirm-yes").addEventListener("click", () => {
    $("confirm").hidden = true;
    const action = pending;
    pending = null;
    if (action) action();
  });
  $("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; pending = null; });

  async function act(method, path, doneKey) {
    try {
      await call(method, path);
      say(t(doneKey));
      await load();
    } catch (e) {
      say(e.message, true);
    }
  }

  $("object").addEventListener("click", () => confirmThen(t("me.confirm_object"),
    () => act("POST", "/hq/v1/me/object", "me.objected").then(refreshPass)));
  $("delete").addEventListener("click", () => confirmThen(t("me.confirm_delete"), async () => {
    try {
      await call("DELETE", "/hq/v1/me");
      clearTimeout(passTimer);
      $("page").hidden = true;
      $("signed-out").hidden = false;
      say(t("me.deleted"));
    } catch (e) {
      say(e.message, true);
    }
  }));
  $("heard-remove-all").addEventListener("click", () => confirmThen(t("me.confirm_heard_remove_all"),
    () => act("DELETE", "/hq/v1/me/heard", "me.heard_removed")));
  $("export").addEventListener("click", () => setTimeout(load, 1000));

  for (const button of document.querySelectorAll(".lang")) {
    button.addEventListener("click", async () => {
      lang = button.dataset.lang;
      W.remember(lang);
      await loadMessages();
      if (await load()) refreshPass();
    });
  }

  loadMessages().then(load).then((signedIn) => { if (signedIn) refreshPass(); });
})();
