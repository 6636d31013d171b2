// Telling a busy member of staff that something arrived: a short sound and a
// flash of the page, switched by a button and remembered on the device. The
// browser's autoplay rules only let sound start after a tap or key press on
// the page, so until then the page says so ("tap anywhere to allow sound")
// and still flashes.
"use strict";

const PospluginAlert = (() => {
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;

  function create({ key, defaultOn, button, hint }) {
    const P = Posplugin;
    const stored = localStorage.getItem(key);
    let on = stored === null ? defaultOn : stored === "on";
    let audio = null;

    function context() {
      if (!audio && AudioContextClass) {
        try { audio = new AudioContextClass(); } catch (e) { audio = null; }
      }
      return audio;
    }

    const soundAllowed = () => !!audio && audio.state === "running";

    function update() {
      button.setAttribute("aria-pressed", String(on));
      button.textContent = P.t(on ? "alert.on" : "alert.off");
      if (hint) hint.hidden = !on || soundAllowed();
    }

    function unlock() {
      // Called from a user gesture: the one moment a page may start audio.
      if (!on) return;
      const c = context();
      if (c && c.state !== "running") c.resume().then(update, update);
      update();
    }

    function beep() {
      if (!soundAllowed()) return false;
      const now = audio.currentTime;
      for (const [offset, pitch] of [[0, 880], [0.18, 660]]) {
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        tone.frequency.value = pitch;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.16);
        tone.connect(gain).connect(audio.destination);
        tone.start(now + offset);
        tone.stop(now + offset + 0.17);
      }
      return true;
    }

    function flash() {
      const body = document.body;
      body.classList.remove("flash");
      void body.offsetWidth; // restart the animation when two arrive close together
      body.classList.add("flash");
      setTimeout(() => body.classList.remove("flash"), 2600);
    }

    /** Something arrived: flash and sound when alerts are on. Returns what was done. */
    function fire() {
      if (!on) return "off";
      flash();
      const done = beep() ? "sound" : "flash";
      document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
      document.body.dataset.lastAlert = done;
      return done;
    }

    button.addEventListener("click", () => {
      on = !on;
      localStorage.setItem(key, on ? "on" : "off");
      unlock();
      update();
    });
    // On the click, not the press: sound allowed hides the hint, and a hint vanishing between a
    // tap's press and release moves the page under the finger, so the tap's button never gets it.
    for (const kind of ["click", "keydown"]) document.addEventListener(kind, unlock, { passive: true });
    if (on) context(); // suspended until the first tap; the hint says so
    update();
    return { fire, update, get on() { return on; } };
  }

  return { create };
})();
