"""Prompts: creation, lookup, and the lifecycle open → taken → resolved (or expired).

Every transition is written to ``prompt_events`` (the audit trail) in the same
transaction as the change. Functions take a connection that is already inside
a write transaction where they write.
"""

from __future__ import annotations

import json
import sqlite3

from ..errors import Conflict, NotFound
from ..timeutil import iso
from . import ids

STATUSES = ("open", "taken", "resolved", "expired")
# What staff may report as a pain point (``POST /api/v1/painpoints``).
PAIN_KINDS = ("queue", "instructions", "staff", "stock", "other")
# Most urgent first: what a floor tablet shows at the top.
URGENCY = ("murdoch", "urgent", "priority", "standard")
_BY_URGENCY = ("CASE level " + " ".join(f"WHEN '{level}' THEN {rank}" for rank, level in enumerate(URGENCY))
               + f" ELSE {len(URGENCY)} END")

COLUMNS = ("id", "kind", "level", "lane", "title", "body", "status", "created_at", "updated_at", "taken_by",
           "taken_at", "resolved_by", "resolved_at", "note", "display_name", "details", "expires_at")
_COLUMNS = ", ".join(COLUMNS)
FIELDS = tuple(name for name in COLUMNS if name != "details")  # a PROMPT's own keys; details are spread in


def to_json(row) -> dict:
    """A stored prompt (a row of ``_COLUMNS``, in their order) as the API's PROMPT object."""
    # By position: the till's path reads a prompt on every repeat visit, and names cost there.
    (id_, kind, level, lane, title, body, status, created_at, updated_at, taken_by, taken_at,
     resolved_by, resolved_at, note, display_name, details, expires_at) = row
    prompt = {
        "id": id_, "kind": kind, "level": level, "lane": lane, "title": title, "body": body,
        "status": status, "created_at": iso(created_at), "updated_at": iso(updated_at),
        "taken_by": taken_by, "taken_at": iso(taken_at), "resolved_by": resolved_by,
        "resolved_at": iso(resolved_at), "note": note, "display_name": display_name,
        "expires_at": iso(expires_at),
    }
    return _with_details(prompt, json.loads(details))


def _with_details(prompt: dict, details: dict) -> dict:
    # A pain point's own note (what staff reported) must not hide the resolution note.
    if "note" in details:
        details["report_note"] = details.pop("note")
    prompt.update(details)
    return prompt


ID_BLOCK = 1_000  # prompt ids reserved per commit (posplugin.store.ids)


def next_id(db) -> int:
    """A new prompt's id: every prompt takes one from here, so a prompt that
    waits in memory for a full disk never meets another under its id."""
    return ids.blocks(db, "prompts", ID_BLOCK).next()


def new(prompt_id: int, *, kind: str, level: str, lane: str | None, title: str, body: str, now: float,
        customer: bytes | None = None, display_name: str | None = None, details: dict | None = None,
        expires_at: float | None = None, by: str | None = None) -> tuple[list[tuple[str, tuple]], dict]:
    """An open prompt and its ``created`` audit event: the statements that write
    them (in order), and the PROMPT they make."""
    details_json = json.dumps(details or {}, ensure_ascii=False)
    statements = [
        ("INSERT INTO prompts (id, kind, level, lane, title, body, status, created_at, updated_at, customer,"
         " display_name, details, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
         (prompt_id, kind, level, lane, title, body, now, now, customer, display_name, details_json, expires_at)),
        (AUDIT, (prompt_id, now, "created", by, None)),
    ]
    # Built from what is written rather than read back: this is on the till's path.
    return statements, to_json((prompt_id, kind, level, lane, title, body, "open", now, now, None, None, None,
                                None, None, display_name, details_json, expires_at))


def create(conn: sqlite3.Connection, prompt_id: int, **fields) -> dict:
    """Insert an open prompt (the fields of :func:`new`) and its ``created``
    audit event, inside the caller's transaction; returns the PROMPT."""
    statements, prompt = new(prompt_id, **fields)
    for sql, params in statements:
        conn.execute(sql, params)
    return prompt


def get(conn: sqlite3.Connection, prompt_id: int) -> dict:
    """The PROMPT with ``prompt_id``; raises :class:`NotFound`."""
    if not 0 < prompt_id < 2**63:  # beyond SQLite's integers: cannot exist
        raise NotFound(f"no prompt with id {prompt_id}")
    row = conn.execute(f"SELECT {_COLUMNS} FROM prompts WHERE id = ?", (prompt_id,)).fetchone()
    if row is None:
        raise NotFound(f"no prompt with id {prompt_id}")
    return to_json(row)


def recent_for_customer(conn: sqlite3.Connection, customer: bytes, lane: str, since: float) -> dict | None:
    """The newest service prompt for this customer at this lane since ``since``."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM prompts WHERE customer = ? AND lane = ? AND created_at >= ?"
        " AND kind = 'service' ORDER BY created_at DESC LIMIT 1", (customer, lane, since)).fetchone()
    return to_json(row) if row else None


def list_prompts(conn: sqlite3.Connection, *, status: str | None = None, lane: str | None = None,
                 since: float | None = None, limit: int = 200) -> list[dict]:
    """Prompts, most urgent first, then newest first."""
    where, params = _filters(status, lane, since)
    sql = f"SELECT {_COLUMNS} FROM prompts{where} ORDER BY {_BY_URGENCY}, created_at DESC LIMIT ?"
    return [to_json(r) for r in conn.execute(sql, (*params, limit))]


def count(conn: sqlite3.Connection, *, status: str | None = None, lane: str | None = None,
          since: float | None = None) -> int:
    """How many prompts :func:`list_prompts` would list without its limit."""
    where, params = _filters(status, lane, since)
    return conn.execute(f"SELECT count(*) FROM prompts{where}", params).fetchone()[0]


def _filters(status: str | None, lane: str | None, since: float | None) -> tuple[str, list]:
    """The WHERE clause (with its leading space, or empty) and parameters of a listing."""
    where, params = [], []
    for sql, value in (("status = ?", status), ("lane = ?", lane)):
        if value:
            where.append(sql)
            params.append(value)
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def ack(conn: sqlite3.Connection, prompt_id: int, by: str, now: float) -> tuple[dict, bool]:
    """Mark taken by ``by``. Taking a taken prompt again changes nothing.
    Returns ``(prompt, changed)``; raises :class:`Conflict` if it is closed."""
    prompt = get(conn, prompt_id)
    if prompt["status"] == "taken":
        return prompt, False
    if prompt["status"] != "open":
        raise Conflict(f"prompt {prompt_id} is already {prompt['status']}", code="prompt_closed")
    conn.execute("UPDATE prompts SET status = 'taken', taken_by = ?, taken_at = ?, updated_at = ?"
                 " WHERE id = ?", (by, now, now, prompt_id))
    _audit(conn, prompt_id, now, "taken", by, None)
    return get(conn, prompt_id), True


def resolve(conn: sqlite3.Connection, prompt_id: int, by: str | None, note: str | None,
            now: float) -> tuple[dict, bool]:
    """Mark resolved. Resolving a resolved prompt again changes nothing.
    Returns ``(prompt, changed)``; raises :class:`Conflict` if it expired."""
    prompt = get(conn, prompt_id)
    if prompt["status"] == "resolved":
        return prompt, False
    if prompt["status"] == "expired":
        raise Conflict(f"prompt {prompt_id} expired before it was resolved", code="prompt_closed")
    conn.execute("UPDATE prompts SET status = 'resolved', resolved_by = ?, resolved_at = ?, note = ?,"
                 " updated_at = ?, taken_by = coalesce(taken_by, ?), taken_at = coalesce(taken_at, ?)"
                 " WHERE id = ?", (by, now, note, now, by, now, prompt_id))
    _audit(conn, prompt_id, now, "resolved", by, note)
    return get(conn, prompt_id), True


def history(conn: sqlite3.Connection, prompt_id: int) -> list[dict]:
    """The audit trail of one prompt, oldest first."""
    return [{"at": iso(r["at"]), "action": r["action"], "by": r["by"], "note": r["note"]}
            for r in conn.execute("SELECT at, action, by, note FROM prompt_events WHERE prompt_id = ?"
                                  " ORDER BY at, id", (prompt_id,))]


AUDIT = "INSERT INTO prompt_events (prompt_id, at, action, by, note) VALUES (?, ?, ?, ?, ?)"


def _audit(conn, prompt_id: int, now: float, action: str, by: str | None, note: str | None) -> None:
    conn.execute(AUDIT, (prompt_id, now, action, by, note))


def purge(conn: sqlite3.Connection, before: float) -> int:
    """Delete prompts created before ``before`` and their audit trail."""
    conn.execute("DELETE FROM prompt_events WHERE prompt_id IN (SELECT id FROM prompts WHERE created_at < ?)",
                 (before,))
    return conn.execute("DELETE FROM prompts WHERE created_at < ?", (before,)).rowcount


REWRITE = ("UPDATE prompts SET title = ?, body = ?, level = ?, details = ?, updated_at = ?"
           " WHERE id = ? AND status IN ('open', 'taken')")


def rewrite(prompt: dict, *, title: str, body: str, level: str, details: dict,
            now: float) -> tuple[list[tuple[str, tuple]], dict]:
    """New words and figures for the open or taken ``prompt`` (a PROMPT, as
    last published): the statements that write them, and the PROMPT they make.
    A prompt closed before the statements run keeps what it said. Audited only
    when its level changes, not for every new figure."""
    statements = [(REWRITE, (title, body, level, json.dumps(details, ensure_ascii=False), now, prompt["id"]))]
    if prompt["level"] != level:
        statements.append((AUDIT, (prompt["id"], now, "level", None, f"{prompt['level']} -> {level}")))
    # Built from what is written rather than read back: a long lane rewrites
    # its prompt on every reading.
    fields = {name: prompt[name] for name in FIELDS}
    fields.update(title=title, body=body, level=level, updated_at=iso(now))
    return statements, _with_details(fields, dict(details))


def expire(conn: sqlite3.Connection, created_before: float, now: float,
           visited_before: float | None = None) -> list[dict]:
    """Expire open (untaken) service prompts created before ``created_before``
    (nobody took them), open prompts whose own ``expires_at`` has passed
    (after-sale invitations), and, with ``visited_before``, service prompts
    taken or not whose customer was last identified at that lane before it
    (the customer has left the till)."""
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM prompts WHERE status = 'open' AND ((kind = 'service' AND created_at < ?)"
        " OR (expires_at IS NOT NULL AND expires_at <= ?))", (created_before, now))]
    if visited_before is not None:
        ids += [r[0] for r in conn.execute(LEFT_THE_TILL, (visited_before, visited_before)) if r[0] not in ids]
    _close_expired(conn, ids, now, None)
    return [get(conn, i) for i in ids]


# Live service prompts whose customer's last identify at the prompt's lane
# (the prompt's own visit, or a later one that got it back) is before the cut.
# Few prompts are live at once; each looks up its customer's visits by index.
LEFT_THE_TILL = (
    "SELECT p.id FROM prompts p WHERE p.status IN ('open', 'taken') AND p.kind = 'service'"
    " AND p.created_at < ? AND coalesce((SELECT max(v.at) FROM visits v WHERE v.customer = p.customer"
    " AND v.stage = 'till' AND v.lane = p.lane), 0) < ?")


def _close_expired(conn: sqlite3.Connection, ids: list[int], now: float, note: str | None) -> None:
    for prompt_id in ids:
        conn.execute("UPDATE prompts SET status = 'expired', updated_at = ? WHERE id = ?",
                     (now, prompt_id))
        _audit(conn, prompt_id, now, "expired", None, note)


def close_for_sale(conn: sqlite3.Connection, customer: bytes, now: float, note: str) -> list[dict]:
    """The customer's sale is done and they leave the till: their live service
    prompts close at once. One somebody took is resolved by them (the
    customer was served); one nobody took expires."""
    rows = conn.execute("SELECT id, status, taken_by FROM prompts WHERE customer = ? AND kind = 'service'"
                        " AND status IN ('open', 'taken')", (customer,)).fetchall()
    closed = []
    for prompt_id, status, taken_by in rows:
        if status == "taken":
            closed.append(resolve(conn, prompt_id, taken_by, note, now)[0])
        else:
            _close_expired(conn, [prompt_id], now, note)
            closed.append(get(conn, prompt_id))
    return closed


def escalate(conn: sqlite3.Connection, created_before: float, now: float) -> list[dict]:
    """Escalate urgent prompts that nobody took since ``created_before``, once each."""
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM prompts WHERE level = 'urgent' AND status = 'open' AND created_at < ?"
        " AND json_extract(details, '$.escalated') IS NULL", (created_before,))]
    for prompt_id in ids:
        conn.execute("UPDATE prompts SET details = json_set(details, '$.escalated', json('true')),"
                     " updated_at = ? WHERE id = ?", (now, prompt_id))
        _audit(conn, prompt_id, now, "escalated", None, None)
    return [get(conn, i) for i in ids]


def accepted_invitation(conn: sqlite3.Connection, customer: bytes, since: float, until: float) -> bool:
    """Whether an after-sale invitation (``amplify``) for ``customer`` made
    between ``since`` and ``until`` was resolved: staff resolve it when the
    customer accepts."""
    return conn.execute("SELECT 1 FROM prompts WHERE customer = ? AND kind = 'amplify' AND status = 'resolved'"
                        " AND created_at >= ? AND created_at <= ? LIMIT 1",
                        (customer, since, until)).fetchone() is not None


def past_resolved(conn: sqlite3.Connection, prompt_id: int, *, kind: str, level: str, lane: str | None,
                  title: str, body: str, created_at: float, resolved_at: float, by: str,
                  customer: bytes | None = None) -> int:
    """A prompt made and resolved in the past, without audit events, so it
    never reaches the outbox: for simulated history (the demo's experiment),
    which must not show up in head office's hourly figures. Returns its id."""
    conn.execute(
        "INSERT INTO prompts (id, kind, level, lane, title, body, status, created_at, updated_at, resolved_by,"
        " resolved_at, customer) VALUES (?, ?, ?, ?, ?, ?, 'resolved', ?, ?, ?, ?, ?)",
        (prompt_id, kind, level, lane, title, body, created_at, resolved_at, by, resolved_at, customer))
    return prompt_id
