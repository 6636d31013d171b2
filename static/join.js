// The customer's /join page: phone or email → one-time code → consent →
// linked accounts. Signed in by an HttpOnly cookie the page never sees.
// Everything from the server is put on the page with textContent.
"use strict";

(() => {
  const W = PospluginWords;
  const $ = (id) => document.getElementById(id);
  const lang = W.chooseForCustomer();
  const t = W.t;
  let consentDoc = null;
  let kind = "phone";
  let identifierValue = "";

  async function loadMessages() {
    await W.load();
    document.title = t("join.title");
    for (const a of document.querySelectorAll("[data-lang]")) {
      a.setAttribute("aria-current", String(a.dataset.lang === lang));
    }
    $("to-me").href = `/me?lang=${lang}`;
  }

  // Every change echoes the CSRF token that /session and /verify give.
  let csrf = "";

  async function api(method, path, body) {
    const headers = body ? { "Content-Type": "application/json" } : {};
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch("/hq/v1/join" + path, {
      method, credentials: "same-origin", headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (typeof data.csrf === "string") csrf = data.csrf;
    if (!response.ok) {
      const error = new Error((data.error && data.error.message) || response.statusText);
      error.code = data.error && data.error.code;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function show(step) {
    for (const section of document.querySelectorAll(".step")) section.hidden = section.id !== step;
    const heading = document.querySelector(`#${step} h2`);
    if (heading) { heading.tabIndex = -1; heading.focus(); }
  }

  function fail(error) {
    $("error").textContent = error.status === 429 ? t("join.error.slow_down", { message: error.message }) : error.message;
    $("error").hidden = false;
  }

  function clearError() { $("error").hidden = true; }

  async function busy(button, work) {
    button.disabled = true;
    clearError();
    try { await work(); } catch (e) { fail(e); } finally { button.disabled = false; }
  }

  function useKind(next) {
    kind = next;
    $("use-phone").setAttribute("aria-pressed", String(kind === "phone"));
    $("use-email").setAttribute("aria-pressed", String(kind === "email"));
    const input = $("identifier");
    input.type = kind === "phone" ? "tel" : "email";
    input.inputMode = kind === "phone" ? "tel" : "email";
    input.autocomplete = kind === "phone" ? "tel" : "email";
    $("identifier-label").textContent = t(kind === "phone" ? "join.identify.phone_label" : "join.identify.email_label");
    input.value = "";
    input.focus();
  }

  async function sendCode(button) {
    await busy(button, async () => {
      const sent = await api("POST", "/code", { identifier: { type: kind, value: identifierValue }, language: lang });
      $("code-sent").textContent = t(sent.channel === "sms" ? "join.code.sent_sms" : "join.code.sent_email",
        { to: sent.to, minutes: Math.round(sent.expires_in_s / 60) });
      $("code").value = "";
      show("step-code");
    });
  }

  function renderConsent(session) {
    const words = consentDoc.text[lang] || consentDoc.text.en;
    $("h-consent").textContent = words.title;
    $("consent-intro").textContent = words.intro;
    $("consent-tiering").textContent = words.tiering;
    $("consent-staff-see").textContent = words.staff_see || "";
    renderExampleCard(words);
    $("consent-invitations-text").textContent = words.invitations;
    $("consent-listening-text").textContent = words.listening;
    $("consent-rights").textContent = words.rights;
    $("consent-version").textContent = consentDoc.version;
    $("consent-withdrawn").hidden = !(session && session.withdrawn);
  }

  // Exactly what a cashier would see for a customer like the example, before anyone agrees.
  function renderExampleCard(words) {
    const card = consentDoc.card && (consentDoc.card[lang] || consentDoc.card.en);
    $("example-card").hidden = !card;
    if (!card) return;
    $("example-caption").textContent = words.card_caption || "";
    $("example-level").textContent = card.level;
    $("example-name").textContent = card.name;
    $("example-action").textContent = card.action;
    $("example-who").textContent = card.who;
    $("example-niches").replaceChildren(...card.niches.map((n) => {
      const li = document.createElement("li");
      li.className = "niche";
      li.textContent = n;
      return li;
    }));
  }

  function blueskyHandle(state) {
    state.textContent = t("join.bluesky.note");
    const input = document.createElement("input");
    input.type = "text";
    input.className = "bluesky-handle";
    input.autocomplete = "off";
    input.maxLength = 253;
    input.placeholder = t("join.bluesky.placeholder");
    input.setAttribute("aria-label", t("join.bluesky.handle"));
    return input;
  }

  function renderAccounts(session) {
    const list = $("accounts");
    list.replaceChildren();
    const linked = new Map((session.accounts || []).map((a) => [a.platform, a]));
    const platforms = session.platforms || [];
    $("no-platforms").hidden = platforms.length > 0;
    $("handle-form").hidden = !platforms.includes("instagram");
    for (const platform of platforms) {
      const account = linked.get(platform);
      const item = document.createElement("li");
      item.className = "account";
      item.dataset.platform = platform;
      const text = document.createElement("div");
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = t(`join.platform.${platform}`) === `join.platform.${platform}` ? platform : t(`join.platform.${platform}`);
      const state = document.createElement("div");
      state.className = "state";
      state.textContent = account ? t(`join.account.${account.status}`, { handle: account.handle || "",
        proof: account.proof || "" }) : t("join.account.not_linked");
      text.append(name, state);
      // Bluesky starts from the customer's handle: the link finds their own server from it.
      const handle = platform === "bluesky" && !account ? blueskyHandle(state) : null;
      if (handle) text.append(handle);
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = account ? t("join.account.unlink") : t("join.account.link");
      button.addEventListener("click", () => busy(button, async () => {
        if (account) {
          await api("DELETE", `/accounts/${platform}`);
          await refresh();
        } else if (handle) {
          const started = await api("POST", "/bluesky/link", { handle: handle.value.trim() });
          location.assign(started.authorize_url);
        } else {
          const started = await api("POST", `/accounts/${platform}/link`, {});
          location.assign(started.authorize_url);
        }
      }));
      item.append(text);
      if (account && account.status === "unproved") {
        // A handle counts once the phrase is in its bio or a post: check it from here.
        const check = document.createElement("button");
        check.type = "button";
        check.className = "check";
        check.textContent = t("join.account.check");
        check.addEventListener("click", () => busy(check, async () => {
          await api("POST", `/handles/${platform}/check`, {});
          await refresh();
        }));
        item.append(check);
      }
      item.append(button);
      list.append(item);
    }
    const consent = session.consent;
    $("consent-given").textContent = consent ? t("join.done.consented", { version: consent.version,
      when: W.date(consent.given_at) }) : "";
  }

  async function refresh() {
    const session = await api("GET", "/session");
    if (!session.signed_in) return show("step-identify");
    if (!session.consent) {
      renderConsent(session);
      return show("step-consent");
    }
    renderAccounts(session);
    show("step-done");
  }

  function wire() {
    $("use-phone").addEventListener("click", () => useKind("phone"));
    $("use-email").addEventListener("click", () => useKind("email"));
    $("identify-form").addEventListener("submit", (event) => {
      event.preventDefault();
      identifierValue = $("identifier").value.trim();
      sendCode(event.submitter || event.target.querySelector("button"));
    });
    $("code-again").addEventListener("click", (event) => sendCode(event.target));
    $("code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const button = event.submitter || event.target.querySelector("button");
      busy(button, async () => {
        try {
          await api("POST", "/verify", { identifier: { type: kind, value: identifierValue }, code: $("code").value.trim() });
        } catch (e) {
          if (e.code === "code_expired") $("code").value = "";
          throw e;
        }
        await refresh();
      });
    });
    $("agree").addEventListener("click", (event) => busy(event.target, async () => {
      const scopes = ["tiering"].concat($("consent-invitations").checked ? ["invitations"] : [],
        $("consent-listening").checked ? ["listening"] : []);
      try {
        await api("POST", "/consent", { version: consentDoc.version, scopes, language: lang });
      } catch (e) {
        if (e.code === "consent_changed") {
          consentDoc = await api("GET", "/consent");
          renderConsent(null);
        }
        throw e;
      }
      await refresh();
    }));
    $("not-now").addEventListener("click", (event) => busy(event.target, async () => {
      await api("POST", "/signout");
      show("step-identify");
    }));
    $("withdraw").addEventListener("click", (event) => busy(event.target, async () => {
      await api("DELETE", "/consent");
      renderConsent({ withdrawn: true });
      show("step-consent");
    }));
    $("sign-out").addEventListener("click", (event) => busy(event.target, async () => {
      await api("POST", "/signout");
      show("step-identify");
    }));
    $("handle-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const button = event.submitter || event.target.querySelector("button");
      busy(button, async () => {
        await api("POST", "/handles", { platform: "instagram", handle: $("handle").value.trim() });
        $("handle").value = "";
        await refresh();
      });
    });
  }

  async function start() {
    await loadMessages();
    wire();
    try {
      consentDoc = await api("GET", "/consent");
      await refresh();
      const linked = /(?:^|&)(linked|link_error)=([^&]*)/.exec(location.hash.slice(1));
      if (linked) {
        history.replaceState(null, "", location.pathname + location.search);
        if (linked[1] === "link_error") fail(new Error(t("join.account.link_failed", { reason: decodeURIComponent(linked[2]) })));
      }
    } catch (e) {
      show("step-identify");
      fail(e);
    }
  }

  start();
})();
