"""The demo's console, told as a store manager would want the shift told: the
events that matter as they happen (a prompt for a cashier, staff taking it, a
lane turning long and calming, an after-sale invitation, head office's lists,
a pass at a till, customers joining), the queues summarised once a minute
instead of reading by reading, and at the end one paragraph about the shift.

Every simulator tells through one function, :meth:`Narrator.tell`, with an
event kind and its values; the words are the catalogue's ``demo.<kind>`` in
the store's language. A new kind of event needs only its catalogue line (and,
if it is not to be printed every time, an entry in :data:`TELLING`).
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
from collections import Counter
from typing import Callable

from .. import texts

# How each kind of event is told: "line" every time (the default), "first"
# the first time only and then counted (an integration seen working), "count"
# only counted, for the minute's summary and the shift's.
TELLING = {
    "customer": "count", "resolved": "count", "payment_none": "count", "sale_done": "count", "sale_invited": "count",
    "ticket_created_known": "first", "ticket_created_unknown": "first", "ticket_called": "first",
    "payment_prompt": "first", "pass_verified": "first",
}
SUMMARY_EVERY_S = 60.0


class Narrator:
    """The shift's story on ``out``, in ``language``; safe to use from every simulator's thread."""

    def __init__(self, out, language: str, *, summary_every_s: float = SUMMARY_EVERY_S,
                 clock: Callable[[], float] = time.monotonic, zone=None):
        self.out = out
        self.language = language
        self.zone = zone
        self._clock = clock
        self._every = summary_every_s
        self._lock = threading.Lock()
        self._minute: Counter = Counter()   # events since the last summary
        self._lanes: dict[str, tuple[int, float, str]] = {}
        self._told_once: set[str] = set()
        self._next_summary = clock() + summary_every_s

    def tell(self, kind: str, **values) -> None:
        """One event of the shift: counted, and printed as its catalogue line
        when it is one a manager follows (see :data:`TELLING`)."""
        how = TELLING.get(kind, "line")
        with self._lock:
            self._minute[kind] += 1
            if how == "count" or (how == "first" and kind in self._told_once):
                return
            self._told_once.add(kind)
        line = texts.say(f"demo.{kind}", self.language, **values)
        if how == "first":
            line += " " + texts.say("demo.first_of_many", self.language)
        self.write(line)

    def write(self, line: str) -> None:
        """A whole line on the console at once (several simulators tell at the same time)."""
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def say(self, key: str, **values) -> str:
        """The catalogue's words for ``key`` in the store's language."""
        return texts.say(key, self.language, **values)

    def lane(self, lane: str, length: int, normal: float, status: str) -> None:
        """A lane's latest state, for the minute's summary (readings are not told one by one)."""
        with self._lock:
            self._lanes[lane] = (length, normal, status)

    def tick(self) -> None:
        """Print the minute's summary when a minute has passed since the last one."""
        if self._clock() < self._next_summary:
            return
        with self._lock:
            self._next_summary = self._clock() + self._every
            minute, self._minute = self._minute, Counter()
            lanes = dict(self._lanes)
        if lanes or minute:
            self.write(self._summary_line(minute, lanes))

    def _summary_line(self, minute: Counter, lanes: dict) -> str:
        n = lambda value: texts.number(value, self.language)  # noqa: E731 - a local shorthand
        parts = []
        for lane in sorted(lanes, key=lambda name: (len(name), name)):
            length, normal, status = lanes[lane]
            words = self.say("demo.lane_now", lane=lane, length=n(length), normal=n(normal))
            if status != "ok":
                words += " " + self.say(f"demo.status.{status}")
            parts.append(words)
        customers = minute["customer"] + minute["customer_prompt"]
        tickets = minute["ticket_created_known"] + minute["ticket_created_unknown"]
        now = dt.datetime.now(self.zone).strftime("%H:%M")
        return self.say("demo.minute", time=now, lanes=", ".join(parts) or "–", customers=n(customers),
                        prompts=n(minute["customer_prompt"]), tickets=n(tickets),
                        invitations=n(minute["payment_prompt"] + minute["sale_invited"]),
                        passes=n(minute["pass_verified"]))


def shift_figures(store, since: float) -> dict:
    """What happened at ``store`` since ``since`` (epoch seconds), from its own
    database: customers at the tills per service level, the service prompts
    made and how fast staff took them, pain episodes and how long they lasted,
    after-sale invitations and how many were taken up."""
    store.visits.flush()
    conn = store.db.conn
    served = dict(conn.execute("SELECT service_level, count(*) FROM visits WHERE stage = 'till' AND at >= ?"
                               " GROUP BY service_level", (since,)).fetchall())

    def durations(sql: str) -> list[float]:
        return [r[0] for r in conn.execute(sql, (since,)) if r[0] is not None]

    made = conn.execute("SELECT count(*) FROM prompts WHERE kind = 'service' AND created_at >= ?",
                        (since,)).fetchone()[0]
    taken = durations("SELECT taken_at - created_at FROM prompts WHERE kind = 'service' AND created_at >= ?"
                      " AND taken_at IS NOT NULL AND (taken_by IS NULL OR taken_by != 'posplugin')")
    pain = durations("SELECT resolved_at - created_at FROM prompts WHERE kind = 'pain' AND created_at >= ?"
                     " AND status = 'resolved'")
    invited = conn.execute("SELECT count(*), sum(status = 'resolved') FROM prompts WHERE kind = 'amplify'"
                           " AND created_at >= ?", (since,)).fetchone()
    return {"served": served, "made": made, "taken": len(taken),
            "median_take_s": statistics.median(taken) if taken else None,
            "pain_episodes": len(pain), "median_pain_s": statistics.median(pain) if pain else None,
            "invited": invited[0], "invited_taken": invited[1] or 0}


def shift_summary(figures: dict, seconds: float, language: str) -> str:
    """The shift in one paragraph, in ``language``."""
    n = lambda value: texts.number(value, language)  # noqa: E731 - a local shorthand

    def duration(seconds: float | None) -> str:
        if seconds is None:
            return "–"
        if seconds < 90:
            return texts.say("demo.seconds", language, n=n(seconds))
        return texts.minutes(seconds, language)

    served = figures["served"]
    return texts.say(
        "demo.summary", language, duration=texts.minutes(max(60.0, seconds), language, about=False),
        customers=n(sum(served.values())),
        standard=n(served.get("standard", 0)), priority=n(served.get("priority", 0)),
        murdoch=n(served.get("murdoch", 0)), made=n(figures["made"]), taken=n(figures["taken"]),
        median_take=duration(figures["median_take_s"]), pain=n(figures["pain_episodes"]),
        median_pain=duration(figures["median_pain_s"]), invited=n(figures["invited"]),
        invited_taken=n(figures["invited_taken"]))
