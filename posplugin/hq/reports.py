"""Head office's side of the outcome reports: receive each batch once and keep
its hourly figures per store (:mod:`posplugin.hq.figures` reads them).

A batch is stored and exploded into per-store hourly sums in one transaction,
so it is either counted whole or not at all, and a repeat of a batch id
changes nothing. Times to act and pain durations are kept one row each (they
are durations, not identifiers) so that medians are real medians.
"""

from __future__ import annotations

import json

from sqlalchemy import BigInteger, cast, exists, func, select

from ..errors import ValidationError
from ..timeutil import parse_iso, system_clock
from .db import appended, insert, pack
from .schema import reports, store_day_durations, store_days, store_durations, store_hours

DAY_S = 86400
# The sums kept per store and hour (store_hours) and per store and day (store_days).
SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds",
        "reach_murdoch", "reach_all")


class Outcomes:
    """The outcome reports in head office's database (an SQLAlchemy engine)."""

    def __init__(self, engine, *, clock=system_clock):
        self.engine = engine
        self.clock = clock
        self._backfill_days()

    def _backfill_days(self) -> None:
        """Day sums and day durations for reports received before store_days
        and store_day_durations existed (a migration: each runs once, and
        does nothing when its table has any row)."""
        with self.engine.begin() as conn:
            if not conn.execute(select(exists(store_day_durations.select()))).scalar():
                days: dict[tuple, list] = {}
                for store, kind, hour, seconds in conn.execute(select(
                        store_durations.c.store, store_durations.c.kind, store_durations.c.hour,
                        store_durations.c.seconds)):
                    days.setdefault((store, kind, hour - hour % DAY_S), []).append(seconds)
                if days:
                    conn.execute(insert(self.engine, store_day_durations).on_conflict_do_nothing(), [
                        {"store": store, "kind": kind, "day": day, "seconds": pack(values)}
                        for (store, kind, day), values in days.items()])
        with self.engine.begin() as conn:
            if conn.execute(select(exists(store_days.select()))).scalar() or \
                    not conn.execute(select(exists(store_hours.select()))).scalar():
                return
            # Hours are whole seconds: integer division is the same on both engines.
            day = cast(store_hours.c.hour, BigInteger) / DAY_S * DAY_S
            conn.execute(insert(self.engine, store_days).from_select(
                ["store", "day", *SUMS],
                select(store_hours.c.store, day, *(func.sum(store_hours.c[c]) for c in SUMS))
                .group_by(store_hours.c.store, day)).on_conflict_do_nothing())

    def receive(self, store: str, batch, hours) -> bool:
        """Count a batch of hourly figures once; True if it was new."""
        sums: dict[float, dict] = {}
        durations = []
        for index, hour in enumerate(hours):
            try:
                at = parse_iso(hour["hour"])
            except ValueError as exc:
                raise ValidationError(f"hours.{index}.hour: {exc}", field=f"hours.{index}.hour") from None
            at -= at % 3600
            reach = hour.get("reach_served", {})
            made = hour.get("made", {})
            figures = (sum(made.values()), sum(n for key, n in made.items() if key.endswith(":murdoch")),
                       hour.get("taken", 0), hour.get("resolved", 0), hour.get("expired", 0),
                       hour.get("pain_episodes", 0), hour.get("pain_seconds", 0.0),
                       reach.get("murdoch", 0), sum(reach.values()))
            # One row per hour: a batch naming an hour twice must not upsert
            # the same row twice in one statement (PostgreSQL refuses that).
            row = sums.setdefault(at, {"store": store, "hour": at, **dict.fromkeys(SUMS, 0)})
            for name, value in zip(SUMS, figures):
                row[name] += value
            durations += [{"store": store, "hour": at, "kind": "act", "seconds": s}
                          for s in hour.get("times_to_act_s", ())]
            durations += [{"store": store, "hour": at, "kind": "pain", "seconds": s}
                          for s in hour.get("pain_durations_s", ())]
        with self.engine.begin() as conn:
            new = conn.execute(insert(self.engine, reports).values(
                batch=batch, store=store, received_at=self.clock(), hours=json.dumps(hours))
                .on_conflict_do_nothing(index_elements=["batch"]).returning(reports.c.batch)).first() is not None
            if new and sums:
                conn.execute(self._adding(store_hours, "hour"), list(sums.values()))
                conn.execute(self._adding(store_days, "day"), _by_day(sums.values()))
            if new and durations:
                conn.execute(store_durations.insert(), durations)
                days: dict[tuple, list] = {}
                for row in durations:
                    days.setdefault((row["kind"], row["hour"] - row["hour"] % DAY_S), []).append(row["seconds"])
                upsert = insert(self.engine, store_day_durations)
                upsert = upsert.on_conflict_do_update(index_elements=["store", "kind", "day"], set_={
                    "seconds": appended(store_day_durations.c.seconds, upsert.excluded.seconds)})
                conn.execute(upsert, [{"store": store, "kind": kind, "day": day, "seconds": pack(values)}
                                      for (kind, day), values in days.items()])
        return new

    def _adding(self, table, key: str):
        """INSERT of a row of sums that adds to the row already there."""
        upsert = insert(self.engine, table)
        return upsert.on_conflict_do_update(index_elements=["store", key],
                                            set_={c: table.c[c] + upsert.excluded[c] for c in SUMS})


def _by_day(hours) -> list[dict]:
    days: dict[float, dict] = {}
    for row in hours:
        day = row["hour"] - row["hour"] % DAY_S
        out = days.setdefault(day, {"store": row["store"], "day": day, **dict.fromkeys(SUMS, 0)})
        for name in SUMS:
            out[name] += row[name]
    return list(days.values())
