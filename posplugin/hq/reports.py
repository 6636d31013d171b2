"""Head office's side of the outcome reports: receive each batch once, keep
hourly figures per store, and answer figures and charts from them.

A batch is stored and exploded into per-store hourly sums in one transaction,
so it is either counted whole or not at all, and a repeat of a batch id
changes nothing. Times to act and pain durations are kept one row each (they
are durations, not identifiers) so that medians are real medians.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics

from ..errors import ValidationError
from ..timeutil import parse_iso, system_clock

# The figures a chart can show, and how a day's value is made from hours.
FIGURES = {
    "prompts_made": "sum(made)",
    "prompts_taken": "sum(taken)",
    "pain_episodes": "sum(pain_episodes)",
    "pain_minutes": "sum(pain_seconds) / 60.0",
    "reach_served_murdoch": "sum(reach_murdoch)",
    "median_time_to_act_s": None,  # from store_durations
}
SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds",
        "reach_murdoch", "reach_all")


class Outcomes:
    """The outcome reports in head office's database."""

    def __init__(self, db, *, clock=system_clock, timezone=None):
        self.db = db
        self.clock = clock
        # Days for charts are head office's days; without a zone, the machine's.
        self.timezone = timezone or dt.datetime.now().astimezone().tzinfo

    def receive(self, store: str, batch, hours) -> bool:
        """Count a batch of hourly figures once; True if it was new."""
        rows, durations = [], []
        for index, hour in enumerate(hours):
            try:
                at = parse_iso(hour["hour"])
            except ValueError as exc:
                raise ValidationError(f"hours.{index}.hour: {exc}", field=f"hours.{index}.hour") from None
            at -= at % 3600
            reach = hour.get("reach_served", {})
            made = hour.get("made", {})
            rows.append((store, at, sum(made.values()),
                         sum(n for key, n in made.items() if key.endswith(":murdoch")),
                         hour.get("taken", 0), hour.get("resolved", 0), hour.get("expired", 0),
                         hour.get("pain_episodes", 0), hour.get("pain_seconds", 0.0),
                         reach.get("murdoch", 0), sum(reach.values())))
            durations += [(store, at, "act", s) for s in hour.get("times_to_act_s", ())]
            durations += [(store, at, "pain", s) for s in hour.get("pain_durations_s", ())]
        with self.db.write() as conn:
            new = conn.execute("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?)",
                               (batch, store, self.clock(), json.dumps(hours))).rowcount == 1
            if new:
                updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
                conn.executemany(f"INSERT INTO store_hours (store, hour, {', '.join(SUMS)})"
                                 f" VALUES (?, ?, {', '.join('?' * len(SUMS))})"
                                 f" ON CONFLICT (store, hour) DO UPDATE SET {updates}", rows)
                conn.executemany("INSERT INTO store_durations VALUES (?, ?, ?, ?)", durations)
        return new

    def figures(self, store: str, since: float) -> dict:
        """A store's outcomes in the hours from the one holding ``since`` on."""
        since -= since % 3600
        row = self.db.execute(f"SELECT {', '.join(f'coalesce(sum({c}), 0)' for c in SUMS)}"
                              " FROM store_hours WHERE store = ? AND hour >= ?", (store, since)).fetchone()
        totals = dict(zip(SUMS, row))
        return {"prompts_made": totals["made"], "murdoch_prompts_made": totals["made_murdoch"],
                "taken": totals["taken"], "resolved": totals["resolved"], "expired": totals["expired"],
                "median_time_to_act_s": self._median(store, "act", since),
                "pain_episodes": totals["pain_episodes"],
                "pain_minutes": round(totals["pain_seconds"] / 60, 1),
                "median_pain_minutes": _minutes(self._median(store, "pain", since)),
                "reach_served_murdoch": totals["reach_murdoch"], "reach_served": totals["reach_all"]}

    def _median(self, store: str, kind: str, since: float, until: float | None = None) -> float | None:
        values = [s for (s,) in self.db.execute(
            "SELECT seconds FROM store_durations WHERE store = ? AND kind = ? AND hour >= ? AND hour < ?",
            (store, kind, since, until if until is not None else float("inf")))]
        return round(statistics.median(values), 1) if values else None

    def series(self, figure: str, days: int, stores: list[str]) -> dict:
        """One value per store per day for the last ``days`` days (head office's
        time zone), oldest first; days without reports are 0 (None for medians)."""
        if figure not in FIGURES:
            raise ValidationError(f"figure must be one of {', '.join(FIGURES)}", field="figure")
        today = dt.datetime.fromtimestamp(self.clock(), self.timezone).date()
        dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
        bounds = [dt.datetime.combine(d, dt.time(), self.timezone).timestamp() for d in dates]
        bounds.append(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), self.timezone).timestamp())
        result = {}
        for store in stores:
            if FIGURES[figure] is None:
                values = [self._median(store, "act", bounds[i], bounds[i + 1]) for i in range(days)]
            else:
                values = [self.db.execute(f"SELECT coalesce({FIGURES[figure]}, 0) FROM store_hours"
                                          " WHERE store = ? AND hour >= ? AND hour < ?",
                                          (store, bounds[i], bounds[i + 1])).fetchone()[0] for i in range(days)]
            result[store] = values
        return {"figure": figure, "days": [d.isoformat() for d in dates], "stores": result}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)
