// Shared by the staff pages (the till card, the floor tablet, head office):
// pairing token, API calls, the live stream with reconnect and catch-up.
// Words, numbers and dates come from words.js (loaded before this file).
// Everything from data is put on the page with textContent, never as HTML.
"use strict";

const Posplugin = (() => {
  const TOKEN_KEY = "posplugin.token";
  const W = PospluginWords;

  function takeToken() {
    // Pairing puts the token in the URL fragment (never sent to a server);
    // keep it, then drop it from the address bar and history.
    const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
    if (match) {
      localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return localStorage.getItem(TOKEN_KEY);
  }

  const token = takeToken();

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: Object.assign({ Authorization: `Bearer ${token}` },
        body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || response.statusText);
    }
    return data;
  }

  // Live events. EventSource reconnects by itself and sends Last-Event-ID;
  // after any gap the page also reloads its state, so nothing is missed.
  function live(handlers) {
    const banner = document.getElementById("offline");
    let source = null;
    let retry = null;
    function connect() {
      source = new EventSource(`/api/v1/stream?access_token=${encodeURIComponent(token)}`);
      source.onopen = () => {
        banner.hidden = true;
        // data-live="ready" once the page shows the server's state: from then on nothing is missed.
        Promise.resolve(handlers.reload()).then(() => { document.body.dataset.live = "ready"; });
      };
      source.onerror = () => {
        banner.hidden = false;
        delete document.body.dataset.live;
        if (source.readyState === EventSource.CLOSED) {
          clearTimeout(retry);
          retry = setTimeout(connect, 2000);
        }
      };
      for (const kind of ["prompt", "queue"]) {
        source.addEventListener(kind, (e) => handlers[kind] && handlers[kind](JSON.parse(e.data)));
      }
      source.addEventListener("reset", () => handlers.reload());
    }
    connect();
  }

  // Prompts by id, newest version wins (by updated_at). A reload replaces the
  // set with what the server sent, except prompts that live events changed
  // while the reload was under way: those may be newer than the answer.
  function promptStore() {
    const map = new Map();
    let touched = null;
    const newer = (a, b) => !b || (a.updated_at || "") >= (b.updated_at || "");
    return {
      map,
      merge(prompt) {
        if (newer(prompt, map.get(prompt.id))) map.set(prompt.id, prompt);
        if (touched) touched.add(prompt.id);
      },
      begin() { touched = new Set(); },
      replace(list) {
        const keep = touched || new Set();
        touched = null;
        const before = new Map(map);
        map.clear();
        for (const prompt of list) map.set(prompt.id, prompt);
        for (const id of keep) {
          const live = before.get(id);
          if (live && newer(live, map.get(id))) map.set(id, live);
        }
      },
    };
  }

  // Each body cell learns its column's heading, shown beside the value when a
  // table becomes one card per row on a narrow screen (CSS .cards-table).
  function labelCells(table) {
    const headings = [...table.tHead.rows[0].cells].map((th) => th.textContent);
    for (const row of table.tBodies[0].rows) {
      [...row.cells].forEach((cell, i) => { cell.dataset.label = headings[i] || ""; });
    }
  }

  // Durations in seconds, for head office's figures: "under 1 s" rather than a
  // bare 0, short ones in seconds, the rest in minutes; "–" for none.
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 1) return W.t("hq.under_a_second");
    if (s < 90) return W.t("hq.seconds", { n: W.number(Math.round(s)) });
    return W.t("hq.minutes", { n: W.number(Math.round(s / 6) / 10) });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  return { token, lang: W.lang, t: W.t, number: W.number, date: W.date, dayMonth: W.dayMonth, time: W.time, dateTime: W.dateTime,
    duration, api, live, el, labelCells, loadMessages: W.load, promptStore };
})();
