// Drop the cashier's card into any web-based POS page with one tag:
//   <script src="http://POSPLUGIN:8765/static/embed.js" data-lane="3" data-token="pp_..."></script>
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
  const frame = document.createElement("iframe");
  frame.src = `${origin}/till?lane=${encodeURIComponent(lane)}#token=${encodeURIComponent(token)}`;
  frame.title = "posplugin service prompt";
  frame.setAttribute("style", [
    "position:fixed", "right:12px", "bottom:12px", "width:340px", "height:420px",
    "border:0", "border-radius:12px", "box-shadow:0 4px 24px rgba(0,0,0,.25)",
    "z-index:2147483647", "background:#fff"].join(";"));
  document.body.appendChild(frame);
})();
