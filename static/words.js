// Words, numbers and dates for every page, in the page's language: the
// service's `language` setting (the page's <html lang>), or on the customer's
// pages (/join, /me) the language the customer chose, which wins and is
// remembered on the device. One format per language for dates and times,
// taken from the message catalogue, the same on every page (and the same as
// head office's own sentences, posplugin/texts.py).
"use strict";

const PospluginWords = (() => {
  const LANGUAGES = ["en", "nb"];
  const CHOICE = "posplugin.lang";
  let lang = LANGUAGES.includes(document.documentElement.lang) ? document.documentElement.lang : "en";
  let messages = {};

  function stored() {
    try { return localStorage.getItem(CHOICE); } catch (e) { return null; }
  }

  // The customer's choice: a ?lang= link (remembered), else the one they made before, else the setting.
  function chooseForCustomer() {
    const asked = new URLSearchParams(location.search).get("lang");
    if (LANGUAGES.includes(asked)) remember(asked);
    else if (LANGUAGES.includes(stored())) lang = stored();
    document.documentElement.lang = lang;
    return lang;
  }

  function remember(next) {
    lang = next;
    try { localStorage.setItem(CHOICE, next); } catch (e) { /* a private window: this page only */ }
    document.documentElement.lang = lang;
  }

  function t(key, values) {
    let text = messages[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(value);
    return text;
  }

  async function load() {
    try {
      messages = await (await fetch(`/static/locales/${lang}.json`)).json();
    } catch (e) {
      messages = {};
    }
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    for (const node of document.querySelectorAll("[data-t-label]")) node.setAttribute("aria-label", t(node.dataset.tLabel));
    return messages;
  }

  const locale = () => (lang === "nb" ? "nb-NO" : "en-GB");
  const number = (n) => new Intl.NumberFormat(locale()).format(n);
  const percent = (rate) => new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(rate);

  function when(value) {
    if (value instanceof Date) return value;
    return new Date(typeof value === "number" ? value * 1000 : value);
  }

  // "2 Dec 2026" / "2. des. 2026": day, month and year in the catalogue's own pattern.
  function date(value) {
    const d = when(value);
    return t("date.format", { day: d.getDate(), month: t("date.months").split(" ")[d.getMonth()],
      year: d.getFullYear() });
  }

  // "2 Dec" / "2. des.": a day of this year, where the year goes without saying (a chart's axis).
  function dayMonth(value) {
    const d = when(value);
    return t("date.day_month", { day: d.getDate(), month: t("date.months").split(" ")[d.getMonth()] });
  }

  const two = (n) => String(n).padStart(2, "0");
  const time = (value) => { const d = when(value); return `${two(d.getHours())}:${two(d.getMinutes())}`; };
  const dateTime = (value) => t("date.date_time", { date: date(value), time: time(value) });

  return {
    get lang() { return lang; },
    chooseForCustomer, remember, t, load, number, percent, date, dayMonth, time, dateTime,
  };
})();
