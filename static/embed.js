// Drop the cashier's card into any web-based POS page with one tag:
//   <script src="http://POSPLUGIN:8765/static/embed.js" data-lane="3" data-token="pp_..."></script>
// Optional: data-alerts="on" (sound and flash for each new prompt; off by
// default), data-width / data-height in pixels (default 340 x 420; the card
// fits down to 320 x 480 and 480 x 320 without scrolling).
// The card runs in an iframe from posplugin itself, so the POS page's own
// scripts and styles cannot touch it, nor it them.
// A screen the customer sees (data-facing="customer") never shows the card:
// nothing about a customer's tier may be on a display facing them or others.
"use strict";

(() => {
  const script = document.currentScript;
  if ((script.dataset.facing || "staff") !== "staff") {
    console.warn("posplugin: the service card is for staff only; not shown on a customer-facing screen");
    return;
  }
  const origin = new URL(script.src).origin;
  const lane = script.dataset.lane || "1";
  const token = script.dataset.token || "";
  const alerts = script.dataset.alerts === "on" ? "&alerts=on" : "";
  const width = parseInt(script.dataset.width, 10) || 340;
  const height = parseInt(script.dataset.height, 10) || 420;
  const frame = document.createElement("iframe");
  frame.src = `${origin}/till?lane=${encodeURIComponent(lane)}${alerts}#token=${encodeURIComponent(token)}`;
  frame.title = "posplugin service prompt";
  // Autoplay: the card may only play sound once the cashier has touched it.
  frame.allow = "autoplay";
  frame.setAttribute("style", [
    "position:fixed", "right:12px", "bottom:12px", `width:min(${width}px, calc(100vw - 24px))`,
    `height:min(${height}px, calc(100vh - 24px))`,
    "border:0", "border-radius:12px", "box-shadow:0 4px 24px rgba(0,0,0,.25)",
    "z-index:2147483647", "background:#fff"].join(";"));
  document.body.appendChild(frame);
})();
