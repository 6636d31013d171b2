"""Customers who join: a proven phone number or email (one-time code), a
recorded consent, and a signed-in session.

Only keyed hashes are kept: of each identifier (the chain's identifier key,
the same hash the stores look up), of the address a code was asked from, of
each code and of each session token. A raw phone number or email passes
through here once, on its way to the sender, and is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from ...errors import (
    Conflict,
    PospluginError,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from ...tiers.identity import normalise
from ...timeutil import iso
from ..schema import (
    consents,
    customer_identifiers,
    customer_sessions,
    customers,
    join_codes,
)
from . import consent as consent_text

CODE_DIGITS = 6
CODE_TTL_S = 600.0
CODE_TRIES = 5
SESSION_TTL_S = 30 * 86400.0
JOIN_TYPES = ("phone", "email")
CHANNEL = {"phone": "sms", "email": "email"}
# (codes, seconds): a person asks again when a text is slow, but not often;
# one shop's wifi puts many customers behind one address.
IDENTIFIER_LIMITS = ((3, 600.0), (10, 86400.0))
ADDRESS_LIMITS = ((30, 3600.0),)

# send(channel, to, code, language) -> whether a sender took it
Sender = Callable[[str, str, str, str], bool]


class CodeRefused(ValidationError):
    code = "wrong_code"


class NoSender(PospluginError):
    """No sender takes this channel (no SMTP, no SMS hook): nothing can be proven."""

    status = 503
    code = "no_sender"


@dataclass(frozen=True)
class SignedIn:
    """The customer behind a session: their id, and the keyed hash (hex) and
    type of the identifier they proved when they signed in."""

    customer_id: int
    id_type: str
    id_hash: str
    expires_at: float


class Customers:
    """Join, codes, consent and sessions over head office's database."""

    def __init__(self, engine: Engine, id_key: str, *, default_region: str = "", clock,
                 send: Sender | None = None):
        self.engine = engine
        self._key = id_key.encode("utf-8")
        self.default_region = default_region
        self.clock = clock
        self.send = send

    # -- hashing -----------------------------------------------------------

    def identifier_hash(self, id_type: str, value: str) -> str:
        """The keyed hash (hex) of a normalised identifier; the stores' hash for it."""
        normalised = normalise(id_type, value, self.default_region)
        return hmac.new(self._key, f"{id_type}:{normalised}".encode(), hashlib.sha256).hexdigest()

    def _keyed(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()

    # -- one-time codes ----------------------------------------------------

    def request_code(self, id_type: str, value: str, address: str, language: str = "en") -> dict:
        """Send a one-time code to a phone (SMS) or email; rate limited per
        identifier and per address. Answers the same whether or not the
        identifier has joined before."""
        if id_type not in JOIN_TYPES:
            raise ValidationError("join with a phone number or an email", field="identifier.type")
        normalised = normalise(id_type, value, self.default_region)
        id_hash = self.identifier_hash(id_type, value)
        address_hash = self._keyed("address", address)
        now = self.clock()
        with self.engine.connect() as conn:
            self._check_limits(conn, join_codes.c.id_hash, id_hash, IDENTIFIER_LIMITS, now,
                               "codes for this number or email")
            self._check_limits(conn, join_codes.c.address_hash, address_hash, ADDRESS_LIMITS, now,
                               "codes from this network")
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        channel = CHANNEL[id_type]
        if self.send is None or not self.send(channel, normalised, code, language):
            raise NoSender(f"head office cannot send codes by {channel} yet; ask the store for help")
        with self.engine.begin() as conn:
            # An older code still open is closed: only the newest one counts.
            conn.execute(update(join_codes).where(and_(join_codes.c.id_hash == id_hash,
                                                       join_codes.c.used_at.is_(None)))
                         .values(used_at=now))
            conn.execute(insert(join_codes).values(
                id_hash=id_hash, address_hash=address_hash, code_hash=self._code_hash(id_hash, code),
                created_at=now, expires_at=now + CODE_TTL_S, tries=0))
        return {"channel": channel, "expires_in_s": int(CODE_TTL_S), "tries": CODE_TRIES}

    def _check_limits(self, conn, column, value: str, limits, now: float, what: str) -> None:
        for count, window in limits:
            recent = conn.execute(select(func.count()).select_from(join_codes).where(
                and_(column == value, join_codes.c.created_at > now - window))).scalar_one()
            if recent >= count:
                raise RateLimited(f"too many {what}; try again in {_minutes(window)}")

    def _code_hash(self, id_hash: str, code: str) -> str:
        return self._keyed("code", f"{id_hash}:{code}")

    def verify_code(self, id_type: str, value: str, code: str, attach_to: int | None = None) -> tuple[SignedIn, str]:
        """Check a code; on success the customer (created on first join) and a
        new session token. A wrong code spends one of five tries. ``attach_to``
        (the customer already signed in) adds a new identifier to them."""
        id_hash = self.identifier_hash(id_type, value)
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(join_codes.c.id, join_codes.c.code_hash, join_codes.c.tries,
                                      join_codes.c.expires_at)
                               .where(and_(join_codes.c.id_hash == id_hash, join_codes.c.used_at.is_(None)))
                               .order_by(join_codes.c.created_at.desc()).limit(1)).first()
            if row is None or row.expires_at <= now or row.tries >= CODE_TRIES:
                raise CodeRefused("this code has expired or was used up; ask for a new one",
                                  field="code", code="code_expired")
            if hmac.compare_digest(row.code_hash, self._code_hash(id_hash, code.strip())):
                used = conn.execute(update(join_codes).where(and_(join_codes.c.id == row.id,
                                                                  join_codes.c.used_at.is_(None)))
                                    .values(used_at=now)).rowcount
                if not used:
                    raise CodeRefused("this code was just used; ask for a new one", field="code",
                                      code="code_expired")
                customer_id = self._customer_for(conn, id_type, id_hash, now, attach_to)
                return self._new_session(conn, customer_id, id_type, id_hash, now)
            # The wrong guess is counted and committed before the refusal is raised.
            conn.execute(update(join_codes).where(join_codes.c.id == row.id)
                         .values(tries=join_codes.c.tries + 1))
        left = CODE_TRIES - row.tries - 1
        raise CodeRefused(f"that is not the code; {left} tries left" if left else
                          "that is not the code, and it was the last try; ask for a new one",
                          field="code", code="wrong_code" if left else "code_expired")

    def _customer_for(self, conn, id_type: str, id_hash: str, now: float, attach_to: int | None = None) -> int:
        found = conn.execute(select(customer_identifiers.c.customer_id, customers.c.deleted_at)
                             .join(customers, customers.c.id == customer_identifiers.c.customer_id)
                             .where(customer_identifiers.c.id_hash == id_hash)).first()
        if found is not None and found.deleted_at is None:
            conn.execute(update(customer_identifiers).where(customer_identifiers.c.id_hash == id_hash)
                         .values(verified_at=now))
            return found.customer_id
        customer_id = attach_to or conn.execute(insert(customers).values(created_at=now)).inserted_primary_key[0]
        if found is not None:  # a deleted customer's identifier joins afresh
            conn.execute(update(customer_identifiers).where(customer_identifiers.c.id_hash == id_hash)
                         .values(customer_id=customer_id, verified_at=now))
        else:
            conn.execute(insert(customer_identifiers).values(id_hash=id_hash, customer_id=customer_id,
                                                             id_type=id_type, verified_at=now))
        return customer_id

    # -- sessions ----------------------------------------------------------

    def _new_session(self, conn, customer_id: int, id_type: str, id_hash: str,
                     now: float) -> tuple[SignedIn, str]:
        token = "cs_" + secrets.token_urlsafe(32)
        expires = now + SESSION_TTL_S
        conn.execute(insert(customer_sessions).values(
            token_hash=_digest(token), customer_id=customer_id, id_hash=id_hash, created_at=now,
            expires_at=expires))
        return SignedIn(customer_id, id_type, id_hash, expires), token

    def signed_in(self, token: str | None) -> SignedIn:
        """The customer holding session ``token``; raises :class:`Unauthorized`."""
        if not token:
            raise Unauthorized("sign in on /join first", code="not_signed_in")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(customer_sessions.c.customer_id, customer_sessions.c.id_hash,
                       customer_sessions.c.expires_at, customer_identifiers.c.id_type)
                .join(customer_identifiers, customer_identifiers.c.id_hash == customer_sessions.c.id_hash)
                .join(customers, customers.c.id == customer_sessions.c.customer_id)
                .where(and_(customer_sessions.c.token_hash == _digest(token),
                            customer_sessions.c.ended_at.is_(None),
                            customer_sessions.c.expires_at > self.clock(),
                            customers.c.deleted_at.is_(None)))).first()
        if row is None:
            raise Unauthorized("your session has ended; sign in again on /join", code="not_signed_in")
        return SignedIn(row.customer_id, row.id_type, row.id_hash, row.expires_at)

    def sign_out(self, token: str | None) -> None:
        """End the session ``token`` (nothing happens for an unknown one)."""
        if token:
            with self.engine.begin() as conn:
                conn.execute(update(customer_sessions).where(customer_sessions.c.token_hash == _digest(token))
                             .values(ended_at=self.clock()))

    def purge(self, older_than_s: float = 86400.0) -> int:
        """Delete one-time codes and ended or expired sessions older than
        ``older_than_s`` (the longest rate-limit window is a day); returns how many."""
        cutoff = self.clock() - older_than_s
        with self.engine.begin() as conn:
            codes = conn.execute(delete(join_codes).where(join_codes.c.created_at < cutoff)).rowcount
            sessions = conn.execute(delete(customer_sessions).where(
                customer_sessions.c.expires_at < self.clock())).rowcount
        return codes + sessions

    # -- consent -----------------------------------------------------------

    def give_consent(self, customer_id: int, version: str, scopes: list[str], language: str) -> dict:
        """Record a consent to the words of ``version`` for ``scopes``; replaces
        any earlier one (which is kept, marked withdrawn)."""
        if version != consent_text.VERSION:
            raise Conflict("the consent text has changed since this page was loaded; read it again",
                           field="version", code="consent_changed")
        unknown = [s for s in scopes if s not in consent_text.SCOPES]
        if unknown:
            raise ValidationError(f"unknown scope {unknown[0]!r}", field="scopes")
        missing = [s for s in consent_text.REQUIRED if s not in scopes]
        if missing:
            raise ValidationError(f"{missing[0]} is needed for a tier", field="scopes")
        now = self.clock()
        with self.engine.begin() as conn:
            self._withdraw(conn, customer_id, now)
            conn.execute(insert(consents).values(
                customer_id=customer_id, version=version, scopes=",".join(sorted(set(scopes))),
                language=language if language in consent_text.LANGUAGES else "en", given_at=now))
        return self.consent(customer_id)

    def withdraw_consent(self, customer_id: int) -> bool:
        """Withdraw the customer's consent; whether there was one."""
        with self.engine.begin() as conn:
            return self._withdraw(conn, customer_id, self.clock()) > 0

    def _withdraw(self, conn, customer_id: int, now: float) -> int:
        return conn.execute(update(consents).where(and_(consents.c.customer_id == customer_id,
                                                        consents.c.withdrawn_at.is_(None)))
                            .values(withdrawn_at=now)).rowcount

    def consent(self, customer_id: int) -> dict | None:
        """The customer's consent in force, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(consents).where(and_(consents.c.customer_id == customer_id,
                                                           consents.c.withdrawn_at.is_(None)))
                               .order_by(consents.c.given_at.desc()).limit(1)).first()
        return _consent_dict(row) if row else None

    def consent_history(self, customer_id: int) -> list[dict]:
        """Every consent the customer gave, newest first, with when it was withdrawn."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(consents).where(consents.c.customer_id == customer_id)
                                .order_by(consents.c.given_at.desc(), consents.c.id.desc())).all()
        return [_consent_dict(r) for r in rows]

    def identifier_hashes(self, customer_id: int) -> list[tuple[str, str]]:
        """``(id_type, id_hash)`` of every identifier the customer proved."""
        with self.engine.connect() as conn:
            return [(r.id_type, r.id_hash) for r in conn.execute(
                select(customer_identifiers.c.id_type, customer_identifiers.c.id_hash)
                .where(customer_identifiers.c.customer_id == customer_id)
                .order_by(customer_identifiers.c.verified_at))]


def join_url(public_url: str, source: str = "") -> str:
    """The /join address a QR code points to; ``source`` (receipt, shelf, till)
    says where it was scanned, for counting, not for identifying anyone."""
    return public_url.rstrip("/") + "/join" + (f"?src={quote(source)}" if source else "")


def _consent_dict(row) -> dict:
    return {"version": row.version, "scopes": row.scopes.split(",") if row.scopes else [],
            "language": row.language, "given_at": iso(row.given_at), "withdrawn_at": iso(row.withdrawn_at)}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 3600)} hours" if seconds >= 7200 else f"{int(seconds // 60)} minutes"
