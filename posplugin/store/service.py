"""The store: one object that wires settings, database, tier list and bus, and
carries out what a till or a member of staff asks. No Flask in here, so it can
be tested and benchmarked on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace

from .. import texts
from ..bus import Bus
from ..config import StoreSettings, require_id_key
from ..db import DiskFull, GroupWriter
from ..errors import Conflict, NotFound, PassRefused, ValidationError
from ..plugins import Plugins
from ..tiers import health as tier_health
from ..tiers.holdout import HOLDOUT
from ..tiers.identity import PASS, Hasher
from ..tiers.lists import TierLists
from ..tiers.policy import EVERYDAY, SERVICE_LEVELS, Policy, capped, needs_prompt, rank
from ..timeutil import Clock, iso, system_clock
from . import deliveries, heard, invitations, outbox, prompts
from .experiment import Holdout
from .queues import Queues, lane_name
from .schema import open_database
from .visits import Visit, VisitLog

DAY = 86_400.0
log = logging.getLogger("posplugin.store")


@dataclass
class IdentifyResult:
    visit_id: int
    known: bool
    tier: str
    service_level: str
    followers: int
    engagement_rate: float
    engaged_reach: int
    niches: list[str]
    prompt: dict | None
    prompt_created: bool = False
    verified: bool = False
    verify_for: str | None = None

    @classmethod
    def of(cls, visit_id: int, record, score, **given) -> "IdentifyResult":
        """The answer for a customer whose list ``record`` (None: not on the list) scored ``score``."""
        return cls(visit_id=visit_id, known=record is not None, tier=score.tier,
                   service_level=score.service_level, followers=record.followers if record else 0,
                   engagement_rate=record.engagement_rate if record else 0.0,
                   engaged_reach=score.engaged_reach, niches=list(record.niches) if record else [], **given)

    def to_json(self) -> dict:
        return {"visit_id": self.visit_id, "known": self.known, "tier": self.tier,
                "service_level": self.service_level, "followers": self.followers,
                "engagement_rate": self.engagement_rate, "engaged_reach": self.engaged_reach,
                "niches": self.niches, "prompt": self.prompt, "verified": self.verified,
                "verify_for": self.verify_for}


class Store:
    """A store's posplugin: build with settings, use from any thread."""

    def __init__(self, settings: StoreSettings, *, clock: Clock = system_clock, bus: Bus | None = None,
                 plugins: Plugins | None = None):
        self.settings = settings
        self.clock = clock
        self.db = open_database(settings.db_path, background_checkpoint=True)
        self.tiers = TierLists(self.db)
        self.policy = Policy.from_settings(settings)
        self.bus = bus or Bus()
        self._hasher = Hasher(settings.id_key, settings.default_region) if settings.id_key else None
        self._passes = _pass_verifier(settings.hq_public_key)
        self.visits = VisitLog(self.db)
        self.holdout = Holdout(self.db, settings.id_key)
        self.plugins = plugins or Plugins(settings)
        self.plugins.notify_from(self.bus)
        self.queues = Queues(settings, self.db, self.bus, clock, self.plugins, self.visits)
        # Customers who consented to listening (head office sends their hashes):
        # only their visits are reported, as keyed hash and time.
        self.consented = heard.Consented(self.db)
        # Customers who may be waiting in a queue (identified with stage "queue").
        # A hint that spares the till a database read: a stale entry only costs
        # one write that finds nothing; every queue visit adds to it.
        self._maybe_waiting: set[bytes] = self.visits.waiting_customers()
        # New prompts made while the disk refused writes, by (customer, lane),
        # so a customer seen again meanwhile gets the same one back.
        self._unwritten: dict[tuple[bytes, str], tuple[float, dict]] = {}
        self._waiting_prompts: set[int] = set()  # ids of prompts made while the disk refused writes

    @property
    def hasher(self) -> Hasher:
        if self._hasher is None:
            require_id_key(self.settings)
        return self._hasher

    def warnings(self) -> list[str]:
        """What an operator must know now (for /healthz): writes that are
        failing or were refused, a damaged tier list."""
        out = []
        writer = getattr(self.db, "_deferred", None)
        if writer is not None and writer.failing:
            out.append(writer.failing)
        if writer is not None and writer.refused:
            out.append(f"{writer.refused} deferred writes were refused and dropped; see the log")
        damaged = getattr(self.tiers, "damage", None)
        if damaged:
            out.append(damaged)
        if self.db.full:
            waiting = writer.waiting + writer.pending if writer is not None else 0
            out.append(f"the disk holding {self.settings.data_dir} is full or failing ({self.db.full}): "
                       f"identify still answers; {waiting} writes wait in memory (at most "
                       f"{GroupWriter.MAX_RETRY_ROWS:,}) and are retried every second; staff actions answer "
                       "503 until there is room. Free some space on that disk")
        return out

    def customer(self, id_type: str, value: str) -> tuple[bytes, bool]:
        """The keyed hash of the customer ``value`` names, and whether a pass
        verified it (raises :class:`PassRefused` for a pass that cannot be trusted)."""
        if id_type != PASS:
            return self.hasher(id_type, value), False
        if self._passes is None:
            raise PassRefused("this store cannot check passes: set hq_public_key "
                              "(posplugin hq public-key prints it)", code="pass_unverifiable",
                              field="identifier.value")
        return self._passes.verify(value, now=self.clock()).customer, True

    def tier_list_health(self) -> dict:
        """The list in use (version, rows, times) for /healthz; an unchanged list
        checked with head office counts as fresh as that check."""
        info = self.tiers.info().to_json()
        # The sync's own state, read here: importing the sync (requests, the
        # feed's checks) would cost a serving store memory and its first healthz time.
        row = self.db.execute("SELECT synced_at FROM sync_state WHERE id = 1").fetchone()
        synced = row[0] if row else None
        if synced:
            info["synced_at"] = iso(synced)
        # A damaged list is reported by warnings() with its repair; "no list loaded" would only repeat it.
        damaged = getattr(self.tiers, "damage", None)
        info["warnings"] = [] if damaged else tier_health.warnings(self.tiers.info())
        return info

    def identify(self, lane: str, id_type: str, value: str, *, stage: str = "till",
                 display_name: str | None = None, sale_id: str | None = None,
                 sale_total: float | None = None) -> IdentifyResult:
        """A customer is at ``lane``: look up their tier, record the visit, and for
        priority and murdoch service at a till return a prompt (the same one again
        within ``prompt_dedupe_minutes``). Without a verified pass the level is
        capped below ``verify_level``, and the prompt asks the cashier to see the pass.
        A customer held out of the chain's experiment whose level would make a
        prompt gets none, and an answer like any customer's with standard service."""
        customer, verified = self.customer(id_type, value)
        lane = lane_name(lane)
        if sale_id is not None and (not isinstance(sale_id, str) or len(sale_id) > 200):
            raise ValidationError("sale_id must be text of at most 200 characters", field="sale_id")
        record = self.tiers.lookup(customer)
        score, verify_for = self._verified_score(record, verified)
        experiment, arm = self.holdout.arm_of(customer)
        # Tiers only add service: holding out takes the addition away, never
        # normal service, and pain prompts (for everyone queueing) are untouched.
        adds_service = record is not None and (needs_prompt(score.service_level) or verify_for is not None)
        held_out = adds_service and arm == HOLDOUT
        visit = Visit(self.visits.next_id(), self.clock(), lane, customer, stage, record is not None, score.tier,
                      score.service_level, score.engaged_reach, None, sale_id, arm, experiment, sale_total)
        wants_prompt = adds_service and stage == "till" and not held_out
        details = (record, score, display_name, verified, verify_for) if wants_prompt else None
        prompt, created = self._record(visit, details)
        self.consented.visit(customer, visit.at)
        if held_out:
            # Nothing a till or POS screen shows sets a held-out customer apart.
            return IdentifyResult.of(visit.id, None, EVERYDAY, prompt=None)
        return IdentifyResult.of(visit.id, record, score, prompt=prompt, prompt_created=created,
                                 verified=verified, verify_for=verify_for)

    def _verified_score(self, record, verified: bool):
        """The score identify gives a list ``record``, its level capped below
        ``verify_level`` without a verified pass; and the level held back (or None)."""
        score = self._score(record)
        level = capped(score.service_level, self.settings.verify_level, verified)
        if level == score.service_level:
            return score, None
        return replace(score, service_level=level), score.service_level

    def _record(self, visit: Visit, details: tuple | None) -> tuple[dict | None, bool]:
        """Write ``visit``, with the service prompt ``details`` ask for (the
        recent one again, else a new one): the prompt and whether it is new.

        Most visits change nothing another request reads at once, and go to
        the batched writer; a queue visit, a customer leaving a queue, or a
        new prompt is written now, in one transaction."""
        conn = self.db.conn
        prompt = self._recent_prompt(conn, visit.customer, visit.lane, visit.at, visit.service_level) \
            if details else None
        leaves_queue = visit.stage == "till" and visit.customer in self._maybe_waiting
        if visit.stage != "queue" and not leaves_queue and (details is None or prompt is not None):
            self.visits.defer(visit._replace(prompt_id=prompt and prompt["id"]))
            return prompt, False
        try:
            return self._record_now(visit, details, leaves_queue)
        except DiskFull:
            return self._record_later(visit, details, leaves_queue)

    def _record_now(self, visit: Visit, details: tuple | None, leaves_queue: bool) -> tuple[dict | None, bool]:
        created, superseded = False, None
        with self.db.write() as conn:
            self._track_queue(conn, visit, leaves_queue)
            if details:
                # Checked again under the write lock: two tills may race. One read
                # serves both: the prompt to give back, or the one to supersede.
                recent = self._latest_prompt(conn, visit.customer, visit.lane, visit.at)
                if recent is not None and rank(recent["level"]) >= rank(visit.service_level):
                    prompt = recent
                else:
                    superseded = self._supersede(conn, recent, visit.at)
                    prompt = prompts.create(conn, prompts.next_id(self.db),
                                            **self._service_prompt(visit.lane, visit.customer, *details, visit.at))
                    created = True
            else:
                prompt = None
            self.visits.insert(conn, visit._replace(prompt_id=prompt and prompt["id"]))
        if superseded:
            self.bus.publish("prompt", superseded)
        if created:
            self.bus.publish("prompt", prompt)
        return prompt, created

    def _record_later(self, visit: Visit, details: tuple | None, leaves_queue: bool) -> tuple[dict | None, bool]:
        """``_record_now`` with the disk refusing writes: the till is answered
        all the same (the tier needs no write), and the visit, the customer
        leaving the queue and a new prompt wait in memory with the deferred
        writes, in order, retried until the disk takes them (bounded: see
        :class:`posplugin.db.GroupWriter`). The new prompt goes to the floor
        and the till card live, and is given back to the same customer at the
        same lane meanwhile, though the database does not hold it yet."""
        if leaves_queue:
            self.visits.leave_queue_later(visit)
            self._maybe_waiting.discard(visit.customer)
        elif visit.stage == "queue":
            self._maybe_waiting.add(visit.customer)
        prompt, created = None, False
        if details:
            prompt = self._recent_prompt(self.db.conn, visit.customer, visit.lane, visit.at, visit.service_level)
            if prompt is None:
                statements, prompt = prompts.new(prompts.next_id(self.db), **self._service_prompt(
                    visit.lane, visit.customer, *details, visit.at))
                self._defer_prompt(statements, prompt, visit.customer, visit.lane, visit.at)
                created = True
        self.visits.defer(visit._replace(prompt_id=prompt and prompt["id"]))
        return prompt, created

    def _defer_prompt(self, statements, prompt: dict, customer: bytes | None, lane: str | None, now: float) -> None:
        for sql, params in statements:
            self.db.deferred.defer(sql, params)
        if not self.db.deferred.waiting and not self.db.full:
            self._waiting_prompts.clear()  # everything made before is written
        self._waiting_prompts.add(prompt["id"])
        if customer is not None:
            since = now - self.settings.prompt_dedupe_minutes * 60
            for key in [k for k, (at, _) in self._unwritten.items() if at < since]:
                self._unwritten.pop(key, None)
            self._unwritten[(customer, lane)] = (now, prompt)
        log.warning("prompt %s waits in memory for the disk (kind %s, lane %s)", prompt["id"], prompt["kind"], lane)
        self.bus.publish("prompt", prompt)

    def _score(self, record):
        """The tier, service level and engaged reach identify gives a list record (or None)."""
        score = self.policy.score(record.followers, record.engagement_rate) if record else EVERYDAY
        if record and self.plugins.has("service_level"):
            score = self._plugin_level(record, score)
        return score

    def preview(self, id_type: str, value: str) -> dict:
        """What identify would answer about this customer at a till, without
        recording a visit or making a prompt (``posplugin tiers lookup``)."""
        record = self.tiers.lookup(self.hasher(id_type, value))
        score = self._score(record)
        answer = IdentifyResult.of(0, record, score, prompt=None).to_json()
        for name in ("visit_id", "prompt", "verified", "verify_for"):
            del answer[name]
        return {**answer, "would_prompt": record is not None and needs_prompt(score.service_level)}

    def _plugin_level(self, record, score):
        level = self.plugins.first("service_level", tier=score.tier, service_level=score.service_level,
                                   followers=record.followers, engagement_rate=record.engagement_rate,
                                   engaged_reach=score.engaged_reach, settings=self.settings)
        if level in SERVICE_LEVELS:
            return replace(score, service_level=level)
        return score

    def _words(self, kind: str, level: str, words: dict, details: dict) -> dict:
        """A plugin may reword a prompt; a bad answer keeps posplugin's words."""
        if not self.plugins.has("prompt_words"):
            return words
        other = self.plugins.first("prompt_words", kind=kind, level=level, words=dict(words),
                                   details=details, language=self.settings.language)
        if isinstance(other, dict) and isinstance(other.get("title"), str) and isinstance(other.get("body"), str):
            return {**words, **other}
        return words

    def current_prompt(self, lane: str, id_type: str, value: str) -> dict | None:
        """The prompt this customer already has at ``lane`` (the one identify
        would give back), without recording a visit: for answering a vendor's
        retried callback."""
        return self._recent_prompt(self.db.conn, self.customer(id_type, value)[0], str(lane), self.clock())

    def _recent_prompt(self, conn, customer: bytes, lane: str, now: float,
                       level: str = "standard") -> dict | None:
        """The prompt to give back, if this customer had one at this lane lately at
        ``level`` or above: one a pass has since raised is made anew."""
        prompt = self._latest_prompt(conn, customer, lane, now)
        return prompt if prompt and rank(prompt["level"]) >= rank(level) else None

    def _latest_prompt(self, conn, customer: bytes, lane: str, now: float) -> dict | None:
        """This customer's latest prompt at this lane within the dedupe window, at any level."""
        since = now - self.settings.prompt_dedupe_minutes * 60
        prompt = prompts.recent_for_customer(conn, customer, lane, since)
        if prompt is None and self._unwritten:  # one made while the disk was full, not written yet
            at, unwritten = self._unwritten.get((customer, lane), (0.0, None))
            prompt = unwritten if at >= since else None
        return prompt

    def _supersede(self, conn, old: dict | None, now: float) -> dict | None:
        """Close ``old``, the lower-level prompt a pass has just raised, so the card shows one."""
        if old is None or old["status"] not in ("open", "taken"):
            return None
        try:
            return prompts.resolve(conn, old["id"], None, texts.verified_note(self.settings.language),
                                   now)[0]
        except Conflict:
            return None

    def _track_queue(self, conn, visit: Visit, leaves_queue: bool) -> None:
        """A customer identified at the till stops waiting in the queue; one
        identified in the queue starts."""
        if leaves_queue:
            self.visits.leave_queue(conn, visit)
            self._maybe_waiting.discard(visit.customer)
        elif visit.stage == "queue":
            self._maybe_waiting.add(visit.customer)

    def _service_prompt(self, lane, customer, record, score, display_name, verified, verify_for, now) -> dict:
        """The fields of a new service prompt (for :func:`posplugin.store.prompts.new`)."""
        words = texts.service_prompt(
            level=score.service_level, tier=score.tier, followers=record.followers,
            engagement_rate=record.engagement_rate, engaged_reach=score.engaged_reach,
            niches=record.niches, display_name=display_name, language=self.settings.language,
            verify_for=verify_for)
        details = {"tier": score.tier, "followers": record.followers,
                   "engagement_rate": record.engagement_rate,
                   "engaged_reach": score.engaged_reach, "niches": list(record.niches),
                   "interests": texts.interests(record.niches, self.settings.language),
                   "who": words["who"], "action": words["action"], "short_action": words["short_action"],
                   "verified": verified, "verify_for": verify_for}
        words = self._words("service", score.service_level, words, details)
        return {"kind": "service", "level": score.service_level, "lane": lane, "title": words["title"],
                "body": words["body"], "now": now, "customer": customer, "display_name": display_name,
                "details": details}

    # -- queues and pain points ---------------------------------------------

    def report_painpoint(self, kind: str, lane: str | None = None, note: str | None = None,
                         by: str | None = None) -> dict:
        """Staff saw something that hurts customers: a pain prompt for the floor."""
        lane = None if lane is None else lane_name(lane)
        words = texts.painpoint_prompt(kind=kind, lane=lane, note=note, by=by,
                                       language=self.settings.language)
        level = "urgent" if kind in ("queue", "staff") else "priority"
        details = {"painpoint": kind, "note": note, "reported_by": by}
        words = self._words("pain", level, words, details)
        statements, prompt = prompts.new(prompts.next_id(self.db), kind="pain", level=level, lane=lane,
                                         title=words["title"], body=words["body"], now=self.clock(), by=by,
                                         details=details)
        try:
            with self.db.write() as conn:
                for sql, params in statements:
                    conn.execute(sql, params)
        except DiskFull:
            # What staff saw still reaches the floor; it is written once the disk takes it.
            self._defer_prompt(statements, prompt, None, lane, self.clock())
            return prompt
        self.bus.publish("prompt", prompt)
        return prompt

    def after_sale(self, id_type: str, value: str, *, lane: str | None = None,
                   display_name: str | None = None, place: str | None = None,
                   sale_total: float | None = None) -> dict | None:
        """A sale closed with a known customer (a POS webhook, after the fact):
        the customer's service prompts at the till close (see :meth:`sale_done`),
        and for an influencer an ``amplify`` prompt goes to the floor, never to
        a till; returns it, or None for everyday or unknown customers."""
        return self.sale_done(id_type, value, lane=lane, display_name=display_name, place=place,
                              sale_total=sale_total)["prompt"]

    def sale_done(self, id_type: str, value: str, *, lane: str | None = None,
                  display_name: str | None = None, place: str | None = None,
                  sale_total: float | None = None) -> dict:
        """The till (or POS) reports a customer's sale done: they are leaving,
        so their live service prompts close at once (one taken is resolved by
        whoever took it, one nobody took expires); for an influencer an
        ``amplify`` prompt goes to the floor. ``place`` names where the sale
        was when there is no lane (a device or counter); the amplify prompt
        expires after ``amplify_expire_minutes`` untaken. With ``sale_total``,
        the sale is recorded as a visit (stage ``sale``) for any customer, so
        the experiment measures spend where the POS reports it only here.
        Returns ``{"prompt": amplify PROMPT or None, "closed": [PROMPT, ...]}``."""
        customer = self.customer(id_type, value)[0]
        record = self.tiers.lookup(customer)
        score = self.policy.score(record.followers, record.engagement_rate) if record else EVERYDAY
        if sale_total is not None:
            self._record_sale(customer, lane, record, score, float(sale_total))
        with self.db.write() as conn:
            closed = prompts.close_for_sale(conn, customer, self.clock(),
                                            texts.message("sale.done", self.settings.language))
        for prompt in closed:
            self.bus.publish("prompt", prompt)
        prompt = None
        if record is not None and (score.tier != "everyday" or score.service_level != "standard"):
            prompt = self._amplify_prompt(customer, record, score, lane, display_name, place)
        return {"prompt": prompt, "closed": closed}

    def _amplify_prompt(self, customer: bytes, record, score, lane: str | None, display_name: str | None,
                        place: str | None) -> dict:
        """The floor's after-sale invitation for an influencer who just bought."""
        words = texts.amplify_prompt(tier=score.tier, followers=record.followers,
                                     engagement_rate=record.engagement_rate,
                                     engaged_reach=score.engaged_reach, niches=record.niches,
                                     display_name=display_name, language=self.settings.language)
        details = {"tier": score.tier, "followers": record.followers,
                   "engaged_reach": score.engaged_reach, "niches": list(record.niches),
                   "who": words["who"]}
        if place:
            details["place"] = place
        level = score.service_level if score.service_level != "standard" else "priority"
        words = self._words("amplify", level, words, details)
        now = self.clock()
        with self.db.write() as conn:
            prompt = prompts.create(conn, prompts.next_id(self.db), kind="amplify", level=level, lane=lane,
                                    title=words["title"],
                                    body=words["body"], now=now, customer=customer,
                                    display_name=display_name, details=details,
                                    expires_at=now + self.settings.amplify_expire_minutes * 60)
            if self.settings.hq_url:
                # The invitation itself reaches the customer later, on their page.
                invitations.enqueue(conn, customer, now)
        self.bus.publish("prompt", prompt)
        return prompt

    def _record_sale(self, customer: bytes, lane: str | None, record, score, sale_total: float) -> None:
        experiment, arm = self.holdout.arm_of(customer)
        self.visits.defer(Visit(self.visits.next_id(), self.clock(), lane or "", customer, "sale", record is not None,
                                score.tier, score.service_level, score.engaged_reach, arm=arm,
                                experiment=experiment, sale_total=sale_total))

    def first_delivery(self, source: str, event_id: str | None, body: bytes = b"") -> bool:
        """True the first time a vendor's event is seen; False for a replay.

        The event is known by a keyed hash of its id (an adapter's id may hold
        a phone number or an email), or of the whole signed ``body`` when the
        vendor sent no id: two different events never share a key."""
        if not event_id:
            event_id = "body:" + hashlib.sha256(body).hexdigest()
        key = hmac.new(self.settings.id_key.encode("utf-8"), f"{source}\0{event_id}".encode("utf-8", "replace"),
                       hashlib.sha256).hexdigest()
        with self.db.write() as conn:
            return deliveries.first(conn, source, key, self.clock())

    def tick(self) -> dict:
        """Periodic work: expire service prompts nobody took or whose customer
        has left, escalate untaken urgent ones, close pain prompts of lanes
        that have calmed down."""
        now = self.clock()
        self.visits.flush()  # a repeat identify keeps its customer's prompt alive: count it
        with self.db.write() as conn:
            expired = prompts.expire(conn, now - self.settings.prompt_expire_minutes * 60, now,
                                     visited_before=now - self.settings.service_expire_minutes * 60)
            escalated = prompts.escalate(conn, now - self.settings.escalate_after_s, now)
        for prompt in expired + escalated:
            self.bus.publish("prompt", prompt)
        calmed = self.queues.tick()
        return {"expired": len(expired), "escalated": len(escalated), "calmed": len(calmed)}

    def heard(self, post: dict) -> dict | None:
        """A post head office heard about this store: its ``heard`` prompt, or
        None when the post already made one."""
        return heard.raise_prompt(self, post)

    # -- prompt lifecycle ----------------------------------------------------

    def list_prompts(self, status: str | None = None, lane: str | None = None,
                     since: float | None = None) -> list[dict]:
        """Prompts, most urgent first, optionally by status, lane and creation time."""
        self.db.flush()  # a long lane's prompt rewritten a moment ago says what it says now
        return prompts.list_prompts(self.db.conn, status=status, lane=lane, since=since)

    def count_prompts(self, status: str | None = None, lane: str | None = None,
                      since: float | None = None) -> int:
        """How many prompts :meth:`list_prompts` would give without its limit."""
        return prompts.count(self.db.conn, status=status, lane=lane, since=since)

    def ack(self, prompt_id: int, by: str) -> dict:
        return self._change(prompt_id, lambda conn: prompts.ack(conn, prompt_id, by, self.clock()))

    def resolve(self, prompt_id: int, by: str | None, note: str | None = None) -> dict:
        return self._change(prompt_id, lambda conn: prompts.resolve(conn, prompt_id, by, note, self.clock()))

    def _change(self, prompt_id: int, change) -> dict:
        """A prompt's next step (``change(conn)`` gives it and whether it changed),
        published when it did. A prompt still waiting in memory for the disk is
        a 503 disk_full (try again), not a 404."""
        self.db.flush()  # taken or closed with the words a lane's last reading gave it
        try:
            with self.db.write() as conn:
                prompt, changed = change(conn)
        except NotFound:
            if prompt_id in self._waiting_prompts and (self.db.full or self.db.deferred.waiting):
                raise DiskFull(f"prompt {prompt_id} waits for the disk to be written; try again shortly") from None
            raise
        if changed:
            self.bus.publish("prompt", prompt)
        return prompt

    # -- housekeeping --------------------------------------------------------

    def purge(self) -> dict:
        """Delete visits and prompts older than ``retention_days``, and queue
        history older than the baseline window."""
        before = self.clock() - self.settings.retention_days * DAY
        self.visits.flush()
        with self.db.write() as conn:
            visits = self.visits.purge(conn, before)
            deliveries.purge(conn, before)
            outbox.purge_sent(conn, before)
            # Queue history older than the baseline window serves no baseline.
            self.queues.purge(conn, self.clock() - (self.settings.baseline_weeks + 1) * 7 * DAY)
            removed = prompts.purge(conn, before)
        return {"visits": visits, "prompts": removed}

    def close(self) -> None:
        self.visits.flush()
        self.db.close()


def _pass_verifier(public_key: str) -> "PassVerifier | None":
    """Passes are checked with head office's key; a store without one (or with
    one that does not parse, which sync reports) cannot check them."""
    if not public_key:
        return None
    from ..tiers.passes import PassVerifier  # cryptography: loaded where passes are checked

    try:
        return PassVerifier(public_key)
    except ValueError:
        return None
