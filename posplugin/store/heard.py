"""What customers posted about this store, from head office: a ``heard``
prompt on the floor for each post head office routed here, made once
however often it arrives; back to head office, when each was made, taken and
resolved, and the visits of customers who consented to listening (their
keyed hash and the time, nothing else).

Head office is asked every ``heard_poll_s`` seconds with a conditional GET
(``If-None-Match``): while nothing is new the answer is an empty 304, which
is what makes a short interval affordable at thousands of stores
(docs/listening.md has the measurement). Head office's failures never raise
from here; the next round tries again.
"""

from __future__ import annotations

import logging
import threading

from .. import texts
from ..timeutil import parse_iso
from . import prompts

log = logging.getLogger("posplugin.heard")
TIMEOUT = (3.05, 15)


def level_for(about: str, tone: str) -> str:
    """Urgent for a complaint staff can fix now, priority for other complaints, else standard."""
    if tone == "complaint":
        return "urgent" if about in texts.FIXABLE else "priority"
    return "standard"


def raise_prompt(store, post: dict) -> dict | None:
    """The floor's prompt for a post head office routed here; None when it
    already has one (the same post never makes two prompts)."""
    now = store.clock()
    words = texts.heard_prompt(about=post["about"], tone=post["tone"], excerpt=post["excerpt"],
                               language=store.settings.language)
    details = {"heard_id": post["id"], "about": post["about"], "tone": post["tone"], "excerpt": post["excerpt"],
               "post_url": post.get("url") or "", "posted_at": post["posted_at"], "why": post.get("why", []),
               "response": "amplify" if post["tone"] == "praise" else
               ("fix" if level_for(post["about"], post["tone"]) == "urgent" else "note")}
    level = level_for(post["about"], post["tone"])
    words = store._words("heard", level, words, details)
    with store.db.write() as conn:
        if conn.execute("SELECT 1 FROM heard_prompts WHERE heard_id = ?", (post["id"],)).fetchone():
            return None
        prompt = prompts.create(conn, prompts.next_id(store.db), kind="heard", level=level, lane=post.get("lane"),
                                title=words["title"], body=words["body"], now=now, details=details,
                                expires_at=floor_until(post))
        conn.execute("INSERT INTO heard_prompts (heard_id, prompt_id) VALUES (?, ?)", (post["id"], prompt["id"]))
    store.bus.publish("prompt", prompt)
    return prompt


class Consented:
    """The keyed hashes of customers who consented to listening, as head
    office last sent them; identify asks it on every visit, from memory."""

    def __init__(self, db):
        self.db = db
        self._lock = threading.Lock()
        self._set = {row[0] for row in db.conn.execute("SELECT customer FROM heard_consented")}

    def __contains__(self, customer: bytes) -> bool:
        return customer in self._set

    def replace(self, hashes: list[str]) -> None:
        values = {bytes.fromhex(h) for h in hashes}
        with self.db.write() as conn:
            conn.execute("DELETE FROM heard_consented")
            conn.executemany("INSERT INTO heard_consented (customer) VALUES (?)", [(v,) for v in values])
        with self._lock:
            self._set = values

    def visit(self, customer: bytes, at: float) -> None:
        """Keep the visit of a consented customer for the next report; nothing for anyone else."""
        if customer in self._set:
            with self.db.write() as conn:
                conn.execute("INSERT INTO heard_visits (customer, at) VALUES (?, ?)", (customer, at))


def _state(store) -> dict:
    row = store.db.conn.execute("SELECT after, etag, consented_etag, reported_at FROM heard_state WHERE id = 1"
                                ).fetchone()
    return dict(zip(("after", "etag", "consented_etag", "reported_at"), row or (0, None, None, 0.0)))


def _save(store, **values) -> None:
    with store.db.write() as conn:
        conn.execute("INSERT INTO heard_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
        for name, value in values.items():
            conn.execute(f"UPDATE heard_state SET {name} = ? WHERE id = 1", (value,))


def poll(store, http=None) -> dict:
    """One round (``http``: a requests session): new posts to prompts, then
    back to head office what changed. Returns what it did; never raises for
    head office's failures."""
    import requests   # here: the store's service starts without it (the till's path never needs it)

    s = store.settings
    if not (s.hq_url and s.hq_token):
        return {"status": "off"}
    http = http or requests.Session()
    http.headers["Authorization"] = f"Bearer {s.hq_token}"
    base = s.hq_url.rstrip("/") + "/hq/v1/heard"
    try:
        made = _fetch(store, http, base)
        _consented(store, http, base)
        reported = _report(store, http, base)
    except (requests.RequestException, ValueError, KeyError) as exc:
        log.warning("heard: head office not reached (%s); trying again next round", exc.__class__.__name__)
        return {"status": "unreachable"}
    return {"status": "ok", "prompts": made, "reported": reported}


def _fetch(store, http, base: str) -> int:
    state = _state(store)
    headers = {"If-None-Match": state["etag"]} if state["etag"] else {}
    response = http.get(base + "/floor", params={"after": state["after"]}, headers=headers, timeout=TIMEOUT)
    if response.status_code == 304:
        return 0
    response.raise_for_status()
    posts = response.json()["posts"]
    made = sum(1 for post in posts if raise_prompt(store, post) is not None)
    after = max([state["after"]] + [p["id"] for p in posts])
    # The ETag is kept only once a round took everything: a full page asks again at once.
    _save(store, after=after, etag=response.headers.get("ETag") if len(posts) < 100 else None)
    return made


def _consented(store, http, base: str) -> None:
    state = _state(store)
    headers = {"If-None-Match": state["consented_etag"]} if state["consented_etag"] else {}
    response = http.get(base + "/consented", headers=headers, timeout=TIMEOUT)
    if response.status_code == 304:
        return
    response.raise_for_status()
    store.consented.replace(response.json()["customers"])
    _save(store, consented_etag=response.headers.get("ETag"))


def _report(store, http, base: str) -> int:
    """Send what changed on heard prompts since the last report, and the
    consented customers' visits; forgotten here only once head office has them."""
    state = _state(store)
    conn = store.db.conn
    rows = conn.execute(
        "SELECT h.heard_id, p.created_at, p.taken_at, p.resolved_at, p.updated_at FROM heard_prompts h"
        " JOIN prompts p ON p.id = h.prompt_id WHERE p.updated_at >= ? ORDER BY p.updated_at LIMIT 1000",
        (state["reported_at"],)).fetchall()
    visits = conn.execute("SELECT id, customer, at FROM heard_visits ORDER BY id LIMIT 5000").fetchall()
    if not rows and not visits:
        return 0
    body = {"updates": [{"id": r[0], "prompt_at": r[1], **({"taken_at": r[2]} if r[2] else {}),
                         **({"resolved_at": r[3]} if r[3] else {})} for r in rows],
            "visits": [{"customer": v[1].hex(), "at": v[2]} for v in visits]}
    response = http.post(base + "/floor", json=body, timeout=TIMEOUT)
    response.raise_for_status()
    with store.db.write() as conn:
        if visits:
            conn.execute("DELETE FROM heard_visits WHERE id <= ?", (visits[-1][0],))
    if rows:
        _save(store, reported_at=rows[-1][4])
    return len(rows) + len(visits)


def floor_until(post: dict) -> float | None:
    """When head office says the post is too old for the floor (None: it did not say, or not readably)."""
    try:
        return parse_iso(post["floor_until"])
    except (KeyError, TypeError, ValueError):
        return None
