"""Head office's side of the outcome reports: receive each batch once and keep
its hourly figures per store (:mod:`posplugin.hq.figures` reads them).

A batch is stored and exploded into per-store hourly sums in one transaction,
so it is either counted whole or not at all, and a repeat of a batch id
changes nothing. Times to act and pain durations are kept one row each (they
are durations, not identifiers) so that medians are real medians.
"""

from __future__ import annotations

import json

from ..errors import ValidationError
from ..promptkinds import KINDS, LEVELS
from ..timeutil import iso, parse_iso, system_clock
from .db import appended, insert, pack, transaction
from .schema import reports, store_day_durations, store_days, store_durations, store_hours, store_totals

DAY_S = 86400
# The sums kept per store and hour (store_hours) and per store and day (store_days).
SUMS = ("made", "made_murdoch", "taken", "resolved", "expired", "pain_episodes", "pain_seconds",
        "reach_murdoch", "reach_all")
# What a store has reported in all, to check each batch against (store_totals).
TOTALS = ("made", "taken", "resolved", "expired")
# The fields of an hour head office keeps (web/schemas.py names the same);
# acted and time_to_act_s come from stores of earlier releases.
HOUR_FIELDS = ("hour", "made", "taken", "resolved", "expired", "acted", "pain_episodes", "pain_seconds",
               "time_to_act_s", "times_to_act_s", "pain_durations_s", "reach_served")
DURATION_LISTS = ("times_to_act_s", "pain_durations_s")
DURATION_SUMS = ("time_to_act_s", "pain_seconds")
# Prompts are counted as "kind:level".
PROMPT_KINDS = KINDS
PROMPT_LEVELS = LEVELS
# The reporting window: a store back from a year offline still reports; a
# clock a little fast does not lose its hours.
MAX_AGE_S = 366 * DAY_S
MAX_AHEAD_S = DAY_S
MAX_SECONDS = 30 * DAY_S          # one time to act or pain episode (a stuck prompt, not a figure)
MAX_REACH = 1_000_000_000         # engaged people of one customer: more than any account has


class Outcomes:
    """The outcome reports in head office's database (an SQLAlchemy engine)."""

    def __init__(self, engine, *, clock=system_clock, experiments=None):
        self.engine = engine
        self.clock = clock
        self.experiments = experiments  # posplugin.hq.experiment.Experiments: a report's arms

    def receive(self, store: str, batch: str, hours: list[dict], arms: list[dict] | None = None) -> bool:
        """Count a batch of hourly figures (and the experiment's per-arm
        outcomes, ``arms``) once; True if it was new, False if this store had
        sent it before. Raises :class:`ValidationError` for figures that
        cannot be true (:func:`counted_hour`, and :meth:`_check_totals`),
        keeping nothing; :class:`Busy` when the database stayed busy."""
        now = self.clock()
        counted = [counted_hour(index, hour, now) for index, hour in enumerate(hours)]
        batch_sums = BatchSums(store, counted)
        kept = json.dumps([hour for hour, _ in counted], separators=(",", ":"))

        def store_batch(conn) -> bool:
            new = conn.execute(insert(self.engine, reports).values(
                batch=batch, store=store, received_at=now, hours=kept)
                .on_conflict_do_nothing(index_elements=["store", "batch"]).returning(reports.c.batch)).first()
            if new is None:
                return False
            # Every write below is in one order (tables, then rows by key), and
            # the store's totals row comes first: one store's batches take
            # turns on it, so no two transactions can wait on each other.
            self._check_totals(conn, store, batch_sums.totals)
            self._add(conn, batch_sums)
            if arms and self.experiments is not None:
                self.experiments.add_arms(conn, store, arms)
            return True

        return transaction(self.engine, store_batch)

    def _check_totals(self, conn, store: str, totals: dict) -> None:
        upsert = insert(self.engine, store_totals).values(store=store, **totals)
        made, taken, resolved, expired = conn.execute(upsert.on_conflict_do_update(
            index_elements=["store"], set_={c: store_totals.c[c] + upsert.excluded[c] for c in TOTALS})
            .returning(*(store_totals.c[c] for c in TOTALS))).one()
        if taken > made or resolved + expired > made:
            # Raised inside the transaction: the batch and these totals are rolled back.
            raise ValidationError(
                f"hours: with this batch the store would have taken {taken}, resolved {resolved} and let "
                f"expire {expired} of {made} prompts made; a prompt is made before it is taken, and ends once",
                field="hours")

    def _add(self, conn, sums: "BatchSums") -> None:
        if sums.hours:
            conn.execute(self._adding(store_hours, "hour"), sums.hours)
            conn.execute(self._adding(store_days, "day"), sums.days)
        if sums.durations:
            conn.execute(store_durations.insert(), sums.durations)
            upsert = insert(self.engine, store_day_durations)
            upsert = upsert.on_conflict_do_update(index_elements=["store", "kind", "day"], set_={
                "seconds": appended(store_day_durations.c.seconds, upsert.excluded.seconds)})
            conn.execute(upsert, sums.day_durations)

    def _adding(self, table, key: str):
        """INSERT of a row of sums that adds to the row already there."""
        upsert = insert(self.engine, table)
        return upsert.on_conflict_do_update(index_elements=["store", key],
                                            set_={c: table.c[c] + upsert.excluded[c] for c in SUMS})


def counted_hour(index: int, hour: dict, now: float) -> tuple[dict, dict]:
    """One hour of a report as head office keeps it: only the fields the
    schema names (durations below 0, from a store whose clock stepped back,
    as 0), and its sums. Raises :class:`ValidationError` naming the field
    for an hour outside the reporting window, an unknown prompt kind or
    level, or figures that contradict each other."""
    where = f"hours.{index}"
    try:
        at = parse_iso(hour["hour"])
    except ValueError as exc:
        raise ValidationError(f"{where}.hour: {exc}", field=f"{where}.hour") from None
    at -= at % 3600
    if not now - MAX_AGE_S <= at <= now + MAX_AHEAD_S:
        raise ValidationError(f"{where}.hour: {hour['hour'][:40]} is outside the reporting window "
                              f"(the last {MAX_AGE_S // DAY_S} days, up to a day ahead)", field=f"{where}.hour")
    kept = {name: hour[name] for name in HOUR_FIELDS if name in hour}
    for name in DURATION_LISTS:
        if name in kept:
            kept[name] = [max(0.0, s) for s in kept[name]]
    for name in DURATION_SUMS:
        if name in kept:
            kept[name] = max(0.0, kept[name])
    made, reach = kept.get("made", {}), kept.get("reach_served", {})
    for key in made:
        kind, _, level = key.partition(":")
        if kind not in PROMPT_KINDS or level not in PROMPT_LEVELS:
            raise ValidationError(f"{where}.made.{key}: prompts are kind:level, of kinds "
                                  f"{', '.join(PROMPT_KINDS)} and levels {', '.join(PROMPT_LEVELS)}",
                                  field=f"{where}.made")
    for key in reach:
        if key not in PROMPT_LEVELS:
            raise ValidationError(f"{where}.reach_served.{key}: reach is per level "
                                  f"({', '.join(PROMPT_LEVELS)})", field=f"{where}.reach_served")
    sums = {"made": sum(made.values()), "made_murdoch": sum(n for k, n in made.items() if k.endswith(":murdoch")),
            "taken": kept.get("taken", 0), "resolved": kept.get("resolved", 0), "expired": kept.get("expired", 0),
            "pain_episodes": kept.get("pain_episodes", 0), "pain_seconds": kept.get("pain_seconds", 0.0),
            "reach_murdoch": reach.get("murdoch", 0), "reach_all": sum(reach.values())}
    _check_hour(where, kept, sums)
    return {**kept, "hour": iso(at)}, {"hour": at, **sums}


def _check_hour(where: str, kept: dict, sums: dict) -> None:
    """The figures of one hour that must agree with each other: a duration
    for each prompt taken and each pain episode, pain episodes among the
    prompts resolved, reach only from customers served."""
    rules = (
        ("times_to_act_s", len(kept.get("times_to_act_s", ())) <= sums["taken"],
         "one time to act for each prompt taken, at most"),
        ("pain_durations_s", len(kept.get("pain_durations_s", ())) <= sums["pain_episodes"],
         "one duration for each pain episode, at most"),
        ("pain_episodes", sums["pain_episodes"] <= sums["resolved"],
         "pain episodes end when their prompt is resolved: at most the prompts resolved"),
        ("pain_seconds", sums["pain_seconds"] <= sums["pain_episodes"] * MAX_SECONDS,
         f"at most {MAX_SECONDS:.0f} seconds for each pain episode"),
        ("time_to_act_s", kept.get("time_to_act_s", 0.0) <= sums["taken"] * MAX_SECONDS,
         f"at most {MAX_SECONDS:.0f} seconds for each prompt taken"),
        ("reach_served", sums["reach_all"] <= sums["resolved"] * MAX_REACH,
         f"at most {MAX_REACH:,} engaged people for each prompt resolved"),
    )
    for name, holds, rule in rules:
        if not holds:
            raise ValidationError(f"{where}.{name}: {rule}", field=f"{where}.{name}")


class BatchSums:
    """A batch's rows for each table, summed per key and in key order (the
    order every transaction takes row locks in), and its totals."""

    def __init__(self, store: str, counted: list[tuple[dict, dict]]):
        hours: dict[float, dict] = {}
        days: dict[float, dict] = {}
        durations: list[dict] = []
        day_durations: dict[tuple, list] = {}
        for kept, sums in counted:
            at = sums["hour"]
            # A batch naming an hour twice must not upsert one row twice in
            # one statement (PostgreSQL refuses that).
            for rows, key, name in ((hours, at, "hour"), (days, at - at % DAY_S, "day")):
                row = rows.setdefault(key, {"store": store, name: key, **dict.fromkeys(SUMS, 0)})
                for column in SUMS:
                    row[column] += sums[column]
            for kind, name in (("act", "times_to_act_s"), ("pain", "pain_durations_s")):
                for seconds in kept.get(name, ()):
                    durations.append({"store": store, "hour": at, "kind": kind, "seconds": seconds})
                    day_durations.setdefault((kind, at - at % DAY_S), []).append(seconds)
        self.hours = [hours[k] for k in sorted(hours)]
        self.days = [days[k] for k in sorted(days)]
        self.durations = durations
        self.day_durations = [{"store": store, "kind": kind, "day": day, "seconds": pack(values)}
                              for (kind, day), values in sorted(day_durations.items())]
        self.totals = {name: sum(row[name] for row in self.hours) for name in TOTALS}
