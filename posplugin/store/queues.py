"""Queues: lane lengths from readings and events, what is normal, when a lane is
long, the pain prompt that gets staff to fix it, waits and staffing.

One open pain prompt per lane at a time: raised when the lane turns long, kept
(with its figures updated) while the lane is above normal, said to be calm
(no longer urgent, nothing to do) as soon as the lane is back to normal, and
closed by itself only after the lane has stayed at or under normal for
``pain_calm_s``, so a reading that wobbles around a threshold raises nothing new.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import statistics
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from .. import texts
from ..bus import Bus
from ..config import StoreSettings
from ..db import Database
from ..errors import ValidationError
from ..tiers import csvfile
from ..tiers.csvfile import MAX_REPORTED, Problems
from ..timeutil import iso, parse_iso
from . import baseline, erlang, prompts
from .visits import VisitLog

EVENTS = ("join", "leave", "served", "open", "close")
HISTORY_COLUMNS = ("lane", "at", "length")
MAX_LENGTH = 10_000
BASELINE_TTL_S = 300.0
# The one lane rule, for the HTTP schema and vendors' webhooks alike: room for
# a register's id (Lightspeed's are 36-character UUIDs) where no map names it.
LANE_MAX = 64
LANE_PATTERN = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9 _.-]{{0,{LANE_MAX - 1}}}$")
EARLIEST = 946_684_800.0  # 2000-01-01: a reading before it is a broken clock, not history
HISTORY_SETTLE_S = 2.0     # the deferred writer lands history well within this
# A queue system may count a customer a little after a ticket identified them
# in its queue: waits this young are never taken to have ended because the
# queue counts fewer than were identified.
WAIT_GRACE_S = 60.0
SERVICE_SAMPLES = 50
SERVICE_WINDOW_S = 2 * 3600.0
ARRIVAL_WINDOW_S = 15 * 60.0
IDLE_GAP_S = 15 * 60.0
SYSTEM = "posplugin"
HISTORY_INSERT = "INSERT INTO queue_history (lane, at, slot, length, event) VALUES (?, ?, ?, ?, ?)"
LANE_UPSERT = ("INSERT INTO lanes (lane, open, length, updated_at, status, calm_since, pain_prompt_id)"
               " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lane) DO UPDATE SET open = excluded.open,"
               " length = excluded.length, updated_at = excluded.updated_at, status = excluded.status,"
               " calm_since = excluded.calm_since, pain_prompt_id = excluded.pain_prompt_id")


def counted(waits: tuple, length: int | None = None) -> tuple[int, int]:
    """(known influencers, summed engaged reach) of a lane's ``waits``, at
    most ``length`` of them: the newest, as the longest waiting leave first
    (and while a count lags a ticket by seconds, the newest are the ones counted)."""
    if length is not None:
        waits = waits[len(waits) - length:] if length < len(waits) else waits
    return sum(w.influencer for w in waits), sum(w.reach for w in waits)


@dataclass
class Lane:
    lane: str
    open: bool
    length: int
    updated_at: float
    status: str
    calm_since: float | None
    pain_prompt_id: int | None
    # Readings of one lane take turns; other lanes' readings go on meanwhile.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def copy(self) -> "Lane":
        """The lane as it stands between two readings."""
        with self.lock:
            return replace(self)



def lane_name(value) -> str:
    """A lane as the store names it, whoever sends it (HTTP, a vendor's
    webhook): ``3``, ``3.0`` and ``"3"`` are all lane ``"3"``. Raises
    :class:`ValidationError` unless it follows the lane rules."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) and \
        not isinstance(value, bool) else ""
    if not LANE_PATTERN.match(text):
        raise ValidationError(f"lane must be 1 to {LANE_MAX} letters, digits, spaces or _ . - "
                              "(starting with a letter or digit)", field="lane")
    return text


def whole_length(value) -> int:
    """A queue length as a whole number (``5.0`` is 5); ValidationError otherwise."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LENGTH:
        raise ValidationError(f"length must be a whole number from 0 to {MAX_LENGTH:,}", field="length")
    return value

MAX_PAINS_KEPT = 1_000  # pain prompts kept in memory for answers (a store has tens of lanes)


class Queues:
    """Every lane of one store. Thread-safe; writes go through ``db.write()``."""

    def __init__(self, settings: StoreSettings, db: Database, bus: Bus, clock: Callable[[], float],
                 plugins=None, visits: VisitLog | None = None):
        self.settings = settings
        self.db = db
        self.visits = visits or VisitLog(db)
        self.bus = bus
        self.clock = clock
        self._tz = settings.tz()
        self.plugins = plugins
        self._normals: dict[tuple[str, int], tuple[float, float]] = {}
        self._history_settles: dict[int, float] = {}  # slot -> monotonic time its new history is written
        self._served: dict[str, collections.deque] = {}
        self._service_times: dict[str, float] = {}  # per lane, until its next served event
        self._cache_lock = threading.Lock()
        self._lanes: dict[str, Lane] | None = None
        self._lanes_lock = threading.Lock()  # the dict of lanes; each lane has its own lock
        # Lanes' pain prompts as last read or published: a reading answers with
        # its lane's prompt without reading it back each time. Every change to
        # a prompt is published on the bus after it is committed, which keeps
        # these current.
        self._pains: dict[int, dict] = {}
        bus.listen(self._prompt_published)

    # -- input ---------------------------------------------------------------

    def reading(self, lane: str, length: int, at: str | float | None = None) -> dict:
        """A people counter or queue system says ``length`` are waiting at ``lane``.
        A reading more than ``history_after_s`` old only feeds the baseline."""
        lane, length = lane_name(lane), whole_length(length)
        now = self.clock()
        when = self._when(at, now)
        if when < now - self.settings.history_after_s:
            slot = baseline.slot(when, self._tz)
            self.db.deferred.defer(HISTORY_INSERT, (lane, when, slot, length, None))
            self._history_added(slot)
            normal = self._compute_normal(lane, slot, now)  # no flush: back-fills stay fast
            return {"lane": lane, "length": length, "normal": normal,
                    "status": self._status(length, normal), "wait_s": None, "prompt": None,
                    "history": True}
        return self._update(lane, now, lambda state: length, None, when)

    def event(self, lane: str, event: str) -> dict:
        """A queue system's event: ``join``, ``leave``, ``served``, ``open`` or ``close``."""
        if event not in EVENTS:
            raise ValidationError(f"event must be one of {', '.join(EVENTS)}", field="event")
        lane = lane_name(lane)
        now = self.clock()

        def length_after(state: Lane) -> int:
            if event == "join":
                return min(MAX_LENGTH, state.length + 1)
            if event in ("leave", "served"):
                return max(0, state.length - 1)
            state.open = event == "open" if event in ("open", "close") else state.open
            return state.length

        if event == "served":
            self.visits.served(lane, now, now - self.settings.waiting_max_s)
            with self._cache_lock:
                self._served_times(lane).append(now)
                self._service_times.pop(lane, None)
        return self._update(lane, now, length_after, event, now)

    def import_csv(self, stream: Iterable[bytes | str], *, max_reported: int = MAX_REPORTED) -> int:
        """Back-fill history from ``lane,at,length`` rows; all or nothing.
        Returns the rows loaded; raises :class:`ImportRefused` with line numbers."""
        now = self.clock()
        rows = csvfile.read(stream, HISTORY_COLUMNS, lambda cells, at: self._import_row(cells, at, now))
        problems = Problems(max_reported)
        batch, loaded = [], 0
        with self.db.write() as conn:
            for row in problems.good(rows):
                batch.append(row)
                if len(batch) >= 5_000:
                    loaded += self._insert_history(conn, batch)
            if problems:
                problems.refuse()
            loaded += self._insert_history(conn, batch)
        with self._cache_lock:
            self._normals.clear()
        return loaded

    def _import_row(self, cells: list[str], at: dict, now: float) -> tuple[str, float, int]:
        lane = cells[at["lane"]].strip()
        if not lane or len(lane) > 32 or not all(c.isalnum() or c in " _.-" for c in lane):
            raise ValueError(f"lane {lane!r} is not a lane name (letters, digits, space, _ . -; at most 32)")
        try:
            when = parse_iso(cells[at["at"]].strip())
        except ValueError:
            raise ValueError(f"at {cells[at['at']]!r} is not an ISO-8601 time with a zone") from None
        if when > now + 60:
            raise ValueError("at is in the future")
        if when < EARLIEST:
            raise ValueError("at is before the year 2000")
        try:
            length = csvfile.whole(cells[at["length"]])
        except ValueError:
            raise ValueError(f"length {cells[at['length']]!r} is not a whole number") from None
        if not 0 <= length <= MAX_LENGTH:
            raise ValueError(f"length must be between 0 and {MAX_LENGTH:,}")
        return lane, when, length

    def _insert_history(self, conn, batch) -> int:
        conn.executemany("INSERT INTO queue_history (lane, at, slot, length) VALUES (?, ?, ?, ?)",
                         [(lane, at, baseline.slot(at, self._tz), length) for lane, at, length in batch])
        n = len(batch)
        batch.clear()
        return n

    def has_history(self) -> bool:
        """Whether any reading or event is recorded at all."""
        return self.db.execute("SELECT 1 FROM queue_history LIMIT 1").fetchone() is not None

    def purge(self, conn, before: float) -> None:
        """Forget history older than ``before`` (it serves no baseline), in the caller's transaction."""
        conn.execute("DELETE FROM queue_history WHERE at < ?", (before,))

    # -- what staff see --------------------------------------------------------

    def overview(self) -> dict:
        """Every lane with its status and wait, the reach waiting, and how many
        more tills would bring the expected wait under target."""
        now = self.clock()
        self.db.flush()  # served customers leave the waiting count through deferred writes
        conn = self.db.conn
        waits = dict(self._waits(conn, now))   # a copy: lanes counted are taken out of it
        lanes = []
        states = sorted((s.copy() for s in self._all_states(now)), key=lambda s: (len(s.lane), s.lane))
        for state in states:
            normal = self.normal(state.lane, now)
            lanes.append({
                "lane": state.lane, "open": state.open, "length": state.length, "normal": normal,
                "status": self._status(state.length, normal, state.lane),
                "wait_s": round(erlang.wait_by_littles_law(state.length, self.service_time(state.lane))),
                "waiting_reach": counted(waits.pop(state.lane, ()), state.length)[1],
                "pain_prompt_id": state.pain_prompt_id, "updated_at": iso(state.updated_at)})
        # Waits at a lane no queue system counts yet are all counted.
        total_reach = sum(l["waiting_reach"] for l in lanes) + sum(counted(w)[1] for w in waits.values())
        return {"lanes": lanes, "waiting_reach": total_reach,
                "recommendation": self._recommend(conn, lanes, now)}

    def today(self, points_per_lane: int = 300) -> dict:
        """Each lane's readings since local midnight as ``[epoch_s, length]``
        (thinned to ``points_per_lane``) and its normal for each hour so far."""
        now = self.clock()
        self.db.flush()
        local_now = dt.datetime.fromtimestamp(now, self._tz) if self._tz else dt.datetime.fromtimestamp(now)
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        lanes = {}
        names = [s.lane for s in self._all_states(now)]
        for lane in names:
            rows = self.db.execute("SELECT at, length FROM queue_history WHERE lane = ? AND at >= ?"
                                   " AND at <= ? ORDER BY at", (lane, midnight, now)).fetchall()
            step = max(1, len(rows) // points_per_lane)
            points = [[round(r[0]), r[1]] for r in rows[::step]]
            hours = [midnight + h * 3600 for h in range(int((now - midnight) // 3600) + 1)]
            lanes[lane] = {"points": points, "normal": [[round(h), self.normal(lane, h + 1)] for h in hours]}
        return {"since": iso(midnight), "lanes": lanes}

    def normal(self, lane: str, at: float) -> float:
        """What ``lane`` usually has at ``at``'s hour of the week (cached a few minutes)."""
        slot = baseline.slot(at, self._tz)
        key = (lane, slot)
        now = self.clock()
        # Read without the lock (one dict look-up each is atomic): every reading
        # asks, and readings of different lanes would queue for it.
        hit = self._normals.get(key)
        settling = self._history_settles.get(slot, 0.0) > time.monotonic()
        if hit and not settling and now - hit[1] < BASELINE_TTL_S:
            return hit[0]
        if settling:  # history for this hour is on its way to the disk: count it
            self.db.flush()
        value = self._compute_normal(lane, slot, now)
        if not settling:  # never cache a normal computed before history still on its way was written
            with self._cache_lock:
                self._normals[key] = (value, now)
        return value

    def _compute_normal(self, lane: str, slot: int, now: float) -> float:
        return baseline.normal_for(
            self.db.conn, lane, slot, now, weeks=self.settings.baseline_weeks,
            min_samples=self.settings.baseline_min_samples, default=self.settings.queue_default_normal)[0]

    def _history_added(self, slot: int) -> None:
        """History for ``slot`` was deferred: forget that slot's cached normals
        (every lane's: the store's median feeds lanes without their own) and
        cache none until the deferred writes have landed."""
        with self._cache_lock:
            self._history_settles[slot] = time.monotonic() + HISTORY_SETTLE_S
            for key in [k for k in self._normals if k[1] == slot]:
                del self._normals[key]

    def service_time(self, lane: str) -> float:
        """Seconds per customer at ``lane``, learned from the gaps between recent
        ``served`` events (the median, ignoring idle gaps), else the default."""
        known = self._service_times.get(lane)  # as for normal(): read without the lock
        if known is not None:
            return known
        with self._cache_lock:
            times = self._served_times(lane)
            gaps = [b - a for a, b in zip(times, list(times)[1:]) if 0 < b - a < IDLE_GAP_S]
            known = self._service_times[lane] = \
                statistics.median(gaps) if len(gaps) >= 5 else self.settings.service_time_s
        return known

    def _served_times(self, lane: str) -> collections.deque:
        """Recent ``served`` times at ``lane``, oldest first (loaded from history once)."""
        times = self._served.get(lane)
        if times is None:
            rows = self.db.execute(
                "SELECT at FROM queue_history WHERE event = 'served' AND lane = ? AND at >= ?"
                " ORDER BY at DESC LIMIT ?", (lane, self.clock() - SERVICE_WINDOW_S, SERVICE_SAMPLES + 1))
            times = self._served[lane] = collections.deque(sorted(r[0] for r in rows),
                                                           maxlen=SERVICE_SAMPLES + 1)
        return times

    # -- periodic ------------------------------------------------------------------

    def tick(self) -> list[dict]:
        """Close pain prompts of lanes that have been calm long enough even when
        no reading arrives (an event-driven lane goes quiet when empty)."""
        now = self.clock()
        calm = [s.lane for s in map(Lane.copy, self._all_states(now)) if s.pain_prompt_id is not None
                and s.calm_since is not None and now - s.calm_since >= self.settings.pain_calm_s]
        return [self._update(lane, now, lambda state: state.length, None, now) for lane in calm]

    # -- inside ----------------------------------------------------------------

    def _when(self, at, now: float) -> float:
        if at is None:
            return now
        if isinstance(at, (int, float)):
            when = float(at)
        else:
            try:
                when = parse_iso(at)
            except ValueError as exc:
                raise ValidationError(f"at must be an ISO-8601 time with a zone: {exc}", field="at") from None
        if when > now + 60:
            raise ValidationError("at is in the future; check the sender's clock", field="at")
        if when < EARLIEST:
            raise ValidationError("at is before the year 2000; check the sender's clock", field="at")
        return when

    def _state(self, lane: str, now: float) -> Lane:
        """The in-memory state of ``lane`` (loaded from the database once); change it under its lock."""
        with self._lanes_lock:
            lanes = self._loaded_lanes()
            state = lanes.get(lane)
            if state is None:
                state = lanes[lane] = Lane(lane, True, 0, now, "ok", now, None)
            return state

    def _loaded_lanes(self) -> dict[str, Lane]:
        if self._lanes is None:
            self._lanes = {row[0]: Lane(row[0], bool(row[1]), row[2], row[3], row[4], row[5], row[6])
                           for row in self.db.execute(
                               "SELECT lane, open, length, updated_at, status, calm_since,"
                               " pain_prompt_id FROM lanes")}
        return self._lanes


    def _status(self, length: int, normal: float, lane: str | None = None) -> str:
        status = baseline.status(length, normal, factor=self.settings.long_factor,
                                 margin=self.settings.long_margin)
        if lane is not None and self.plugins is not None and self.plugins.has("queue_status"):
            # A store rule may call a lane long (or calm) whatever the baseline says.
            other = self.plugins.first("queue_status", lane=lane, length=length, normal=normal,
                                       status=status, settings=self.settings)
            if other in baseline.STATUSES:
                return other
        return status

    def _update(self, lane: str, now: float, length_after, event: str | None, at: float) -> dict:
        """Move ``lane`` to its new length and run detection. A pain prompt
        raised or closed commits before the answer. The rest (a prompt's new
        words and figures, history, the lane's length) is published at once and
        deferred to the group writer: a crash loses at most its last interval,
        which the lane's next reading writes afresh."""
        state = self._state(lane, now)
        with state.lock:
            change = self._measure(state, length_after(state), now)
            self._end_extra_waits(lane, change.length, now)
            history = (lane, at, baseline.slot(at, self._tz), change.length, event)
            if change.raises_or_closes:
                # The lane's earlier readings wait in the group writer; landing
                # after this commit, they would put back the lane's old state.
                self.db.flush()
                with self.db.write() as conn:
                    prompt, pain_id = self._raise_or_close(conn, change, lane, now)
                    conn.execute(HISTORY_INSERT, history)
                    self._save(state, change, now, pain_id, conn.execute)
            else:
                defer = self.db.deferred.defer
                if change.moves_pain:
                    prompt, statements = self._rewrite_pain(change, lane, now)
                    for sql, params in statements:
                        defer(sql, params)
                    pain_id = change.pain["id"]
                else:
                    # Staff closed the prompt and the lane has calmed: the next long is news.
                    prompt = change.pain
                    pain_id = None if change.pain and not change.live and change.calm_enough \
                        else state.pain_prompt_id
                defer(HISTORY_INSERT, history)
                self._save(state, change, now, pain_id, defer)
        return self._announce(state, change, prompt)

    def _end_extra_waits(self, lane: str, length: int, now: float) -> None:
        """Fewer are waiting at ``lane`` than were identified in its queue and
        are still counted: the longest waiting have gone (first come, first
        served), or the lane's reach would count people who left long ago."""
        waits = self._waits(self.db.conn, now).get(lane, ())
        extra = len(waits) - length
        gone = [w for w in waits[:extra] if w.at < now - WAIT_GRACE_S] if extra > 0 else []
        if gone:
            self.visits.end_waits(gone, now)

    def _measure(self, state: Lane, length: int, now: float) -> "_Change":
        """What ``length`` at ``now`` means for the lane ``state`` describes."""
        normal = self.normal(state.lane, now)
        status = self._status(length, normal, state.lane)
        calm_since = (state.calm_since or now) if status == "ok" else None
        pain = self._pain(state.pain_prompt_id) if state.pain_prompt_id else None
        return _Change(length, normal, status, calm_since,
                       erlang.wait_by_littles_law(length, self.service_time(state.lane)), pain,
                       calm_since is not None and now - calm_since >= self.settings.pain_calm_s)

    def _pain(self, prompt_id: int) -> dict:
        """The pain prompt ``prompt_id`` as it stands (raises NotFound when it is gone)."""
        prompt = self._pains.get(prompt_id)
        if prompt is None:
            prompt = prompts.get(self.db.conn, prompt_id)
            if len(self._pains) > MAX_PAINS_KEPT:  # lanes' old prompts: start afresh
                self._pains.clear()
            self._pains[prompt_id] = prompt
        return prompt

    def _prompt_published(self, event) -> None:
        if event.kind == "prompt" and event.data.get("id") in self._pains:
            self._pains[event.data["id"]] = event.data

    def _raise_or_close(self, conn, change: "_Change", lane: str, now: float) -> tuple[dict, int | None]:
        """Raise the lane's pain prompt, or close it; returns it and the lane's pain prompt id after."""
        if change.pain is None:
            prompt = self._raise_pain(conn, lane, change.length, change.normal, change.wait, now)
            return prompt, prompt["id"]
        return prompts.resolve(conn, change.pain["id"], SYSTEM, "lane back to normal", now)[0], None

    def _rewrite_pain(self, change: "_Change", lane: str, now: float) -> tuple[dict, list]:
        """The lane's pain prompt with new figures, or said to be calm; and the statements that write it."""
        if change.status == "ok":
            return self._calm_pain(change.pain, lane, change.length, change.normal, now)
        return self._update_pain(change.pain, lane, change.length, change.normal, change.wait, now, change.status)

    def _announce(self, state: Lane, change: "_Change", prompt: dict | None) -> dict:
        """Publish the lane's new state (and its pain prompt, if it changed); the queue answer."""
        open_prompt = prompt if prompt and prompt["status"] in ("open", "taken") else None
        answer = {"lane": state.lane, "length": change.length, "normal": change.normal, "status": change.status,
                  "wait_s": round(change.wait), "prompt": open_prompt, "open": state.open}
        self.bus.publish("queue", {k: answer[k] for k in ("lane", "length", "normal", "status",
                                                          "wait_s", "open")})
        if prompt is not None and prompt is not change.pain:
            self.bus.publish("prompt", prompt)
        return answer

    def _all_states(self, now: float) -> list[Lane]:
        with self._lanes_lock:
            return list(self._loaded_lanes().values())

    @staticmethod
    def _save(state: Lane, change: "_Change", now: float, pain_id: int | None, write) -> None:
        state.length, state.updated_at, state.status = change.length, now, change.status
        state.calm_since, state.pain_prompt_id = change.calm_since, pain_id
        write(LANE_UPSERT, (state.lane, state.open, change.length, now, change.status, change.calm_since, pain_id))

    def _pain_words(self, conn, lane, length, normal, wait, now, status="long"):
        influencers, reach = counted(self._waits(conn, now).get(lane, ()), length)
        words = texts.queue_pain_prompt(lane=lane, length=length, normal=normal, wait_s=wait,
                                        influencers=influencers, reach=reach,
                                        language=self.settings.language, status=status)
        urgent = length >= 2 * max(normal, 1) or reach >= self.settings.level_murdoch
        details = {"queue": {"length": length, "normal": normal, "wait_s": round(wait),
                             "influencers": influencers, "waiting_reach": reach}}
        return words, "urgent" if urgent else "priority", details

    def _raise_pain(self, conn, lane, length, normal, wait, now) -> dict:
        words, level, details = self._pain_words(conn, lane, length, normal, wait, now)
        return prompts.create(conn, prompts.next_id(self.db), kind="pain", level=level, lane=lane,
                              title=words["title"], body=words["body"], now=now, details=details, by=SYSTEM)

    def _update_pain(self, pain, lane, length, normal, wait, now, status) -> tuple[dict, list]:
        words, level, details = self._pain_words(self.db.conn, lane, length, normal, wait, now, status)
        if words["body"] == pain["body"] and level == pain["level"]:
            return pain, []
        keep = {"escalated": pain["escalated"]} if pain.get("escalated") else {}
        statements, prompt = prompts.rewrite(pain, title=words["title"], body=words["body"], level=level,
                                             details={**details, **keep}, now=now)
        return prompt, statements

    def _calm_pain(self, pain, lane, length, normal, now) -> tuple[dict, list]:
        """The lane is back to normal but not yet for ``pain_calm_s``: its prompt
        says so in the past tense, asks nothing, and is no longer urgent (it
        closes by itself, or turns back into a pain prompt if the queue grows)."""
        words = texts.queue_calm_prompt(lane=lane, length=length, normal=normal, language=self.settings.language)
        details = {"queue": {**pain.get("queue", {}), "length": length, "normal": normal, "calm": True,
                             "calm_since": iso(now)}}
        statements, prompt = prompts.rewrite(pain, title=words["title"], body=words["body"], level="standard",
                                             details=details, now=now)
        return prompt, statements

    def _waits(self, conn, now: float) -> dict[str, tuple]:
        """Per lane: the customers identified in its queue still waiting, the longest waiting first."""
        return self.visits.waiting(conn, now - self.settings.waiting_max_s)

    def _recommend(self, conn, lanes: list[dict], now: float) -> dict:
        open_lanes = [l for l in lanes if l["open"]]
        waiting = sum(l["length"] for l in lanes)
        service = statistics.median([self.service_time(l["lane"]) for l in open_lanes]) \
            if open_lanes else self.settings.service_time_s
        target = self.settings.target_wait_s
        since = now - ARRIVAL_WINDOW_S
        # Arrivals are joins where the queue system reports them, else those served.
        arrivals = self._count_events(conn, "join", since) or self._count_events(conn, "served", since)
        if arrivals >= 5:
            rate = arrivals / ARRIVAL_WINDOW_S
            needed = erlang.tills_needed(rate, service, target)
            per_hour = rate * 3600
        else:
            # No arrival events: enough tills to clear who is waiting within the target.
            needed = max(1, math.ceil(waiting * service / target))
            per_hour = None
        extra = max(0, needed - len(open_lanes)) if waiting else 0
        # The sentence quotes the longest lane's wait, the figure on that lane's
        # tile; the pooled model only decides how many tills to open.
        longest = max(lanes, key=lambda l: l["wait_s"], default=None)
        return {"open_lanes": extra, "longest_wait": longest and {k: longest[k] for k in ("lane", "wait_s")},
                "reason": texts.recommendation(
            extra=extra, waiting=waiting, wait_s=longest["wait_s"] if longest else 0,
            target_s=target, open_lanes=len(open_lanes), arrivals_per_hour=per_hour,
            service_s=service, language=self.settings.language, lane=longest["lane"] if longest else "")}

    @staticmethod
    def _count_events(conn, event: str, since: float) -> int:
        return conn.execute("SELECT count(*) FROM queue_history WHERE event = ? AND at >= ?",
                            (event, since)).fetchone()[0]


@dataclass(frozen=True)
class _Change:
    """A lane's new length, what it means, and the lane's pain prompt before it."""
    length: int
    normal: float
    status: str
    calm_since: float | None
    wait: float
    pain: dict | None
    calm_enough: bool  # at or under normal for pain_calm_s

    @property
    def live(self) -> bool:
        return self.pain is not None and self.pain["status"] in ("open", "taken")

    @property
    def raises_or_closes(self) -> bool:
        """Whether the pain prompt is raised or closed (committed before the answer)."""
        return self.moves_pain and (self.pain is None or self.calm_enough)

    @property
    def moves_pain(self) -> bool:
        """Whether the pain prompt is raised (long, none yet), closed (calm long
        enough), said to be calm (just back to normal) or rewritten (still not ok)."""
        if self.pain is None:
            return self.status == "long"
        calm = bool((self.pain.get("queue") or {}).get("calm"))
        return self.live and (self.calm_enough or self.status != "ok" or not calm)
