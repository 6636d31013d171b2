// Keeps the page shell so the floor tablet opens (with its last state, kept
// in localStorage by the page) when the service is unreachable. Network
// first: a working service always wins; the API and the stream are never cached.
"use strict";

const CACHE = "posplugin-shell-v3";
const SHELL = ["/floor", "/till", "/static/app.css", "/static/words.js", "/static/common.js", "/static/floor.js",
  "/static/till.js", "/static/alert.js", "/static/locales/en.json", "/static/locales/nb.json",
  "/static/manifest.webmanifest", "/static/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  event.respondWith(
    fetch(event.request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
      }
      return response;
    }).catch(() => caches.match(url.pathname))
  );
});
