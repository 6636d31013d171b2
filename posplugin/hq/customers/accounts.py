"""Accounts a customer links: OAuth links (state and PKCE verifier kept
sealed until the platform calls back), public handles, unlinking, and which
platforms head office offers.

One account per platform per customer. Tokens are sealed by the vault before
they reach the database and are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Engine, and_, insert, or_, select, update

from ...errors import NotFound, ValidationError
from .collector import engagement_rate
from ...hookspecs import hookimpl
from ...plugins import Plugins
from ...timeutil import iso
from ..platforms import instagram, tiktok, youtube
from ..platforms.atproto import Resolver
from ..platforms.bluesky import Bluesky, client_key
from ..platforms.oauth import Platform, PlatformError, Token
from ..schema import linked_accounts, oauth_states
from .vault import Vault

STATE_TTL_S = 900.0
# A link in these states holds its platform account: no other customer may link it.
HOLDING = ("linked", "unavailable")
# The phrase that proves a handle: short enough to type into a bio, too
# random to be there by chance.
PHRASE_PREFIX = "posplugin-"
PHRASE_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"
PROVED_REFRESH_S = 7 * 86400.0  # a proved handle was measured when proved; the collector refreshes it after
HANDLE_PLATFORMS = ("instagram",)  # platforms that can read a public handle (business_discovery)


class LinkFailed(ValidationError):
    code = "link_failed"


class BundledPlatforms:
    """The ``platforms`` hook for the bundled platforms whose app is configured."""

    @hookimpl
    def platforms(self, settings):
        found = []
        for module in (instagram, tiktok, youtube):
            name = module.PLATFORM.name
            client_id = getattr(settings, f"{name}_client_id", "")
            secret = getattr(settings, f"{name}_client_secret", "")
            if client_id and secret:
                extra = {}
                if name == "instagram":
                    extra = {"discovery_user_id": settings.extra.get("instagram_discovery_user_id", ""),
                             "discovery_token": settings.extra.get("instagram_discovery_token", "")}
                found.append(module.PLATFORM(client_id, secret, **extra))
        if settings.bluesky_client_name and settings.public_url:
            found.append(Bluesky(client_key(settings.data_dir), client_name=settings.bluesky_client_name,
                                 resolver=Resolver(plc_url=settings.bluesky_plc_url,
                                                   domain_url=settings.bluesky_domain_url)))
        return found


def available(settings, plugins: Plugins | None = None) -> dict[str, Platform]:
    """Every platform head office can link, by name: the bundled ones whose
    app is configured, then any a chain's plugin adds (which win by name)."""
    plugins = plugins or Plugins(settings)
    out: dict[str, Platform] = {}
    for found in [BundledPlatforms().platforms(settings)] + plugins.each("platforms", settings=settings):
        for platform in found or []:
            out[platform.name] = platform
    return out


class Accounts:
    """Linking and unlinking over head office's database."""

    def __init__(self, engine: Engine, vault: Vault, platforms: dict[str, Platform], *, clock, tell=None):
        self.engine = engine
        self.vault = vault
        self.platforms = platforms
        self.clock = clock
        # tell(customer_id, action, detail): a line on a customer's own page
        # (posplugin.hq.customers.me's audit), for the holder of an account
        # someone else tried to link.
        self.tell = tell or (lambda *_: None)

    def platform(self, name: str) -> Platform:
        if name not in self.platforms:
            raise NotFound(f"no platform {name!r} can be linked here")
        return self.platforms[name]

    # -- OAuth -------------------------------------------------------------

    def start_link(self, customer_id: int, name: str, redirect_uri: str, *, session: str,
                   handle: str | None = None) -> str:
        """The platform's authorize URL for this customer (state and PKCE),
        bound to ``session`` (their session token): only the browser that
        started the link can finish it. ``handle`` is for platforms that start
        from one (Bluesky); it is not kept."""
        platform = self.platform(name)
        state = secrets.token_urlsafe(24)
        verifier = platform.new_verifier()
        try:
            url, kept = platform.begin(redirect_uri, state, verifier, handle=handle)
        except PlatformError as exc:
            raise LinkFailed(exc.message, field="handle" if handle is not None else "platform") from None
        sealed = self.vault.seal({"verifier": verifier, "kept": kept} if kept else verifier)
        with self.engine.begin() as conn:
            conn.execute(insert(oauth_states).values(state_hash=_digest(state), customer_id=customer_id,
                                                     platform=name, verifier=sealed,
                                                     created_at=self.clock(), session_hash=_digest(session)))
        return url

    def finish_link(self, name: str, state: str, code: str, redirect_uri: str, *, session: str | None,
                    callback: dict | None = None) -> int:
        """The platform called back: trade the code for tokens and keep them
        sealed; returns the customer's id. Raises :class:`LinkFailed` when the
        state is unknown, used or old, when ``session`` (the callback's
        session token) is not the one that started the link (someone else's
        approval would link their account to the starter), and when the
        platform account is another customer's already."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(oauth_states).where(oauth_states.c.state_hash == _digest(state))).first()
            if row is None or row.used_at is not None or row.platform != name \
                    or row.created_at + STATE_TTL_S < now:
                raise LinkFailed("this link has expired or was already used; start again", field="state")
            # Used up either way: a state seen in another browser is spent.
            conn.execute(update(oauth_states).where(oauth_states.c.state_hash == row.state_hash)
                         .values(used_at=now))
        if not session or row.session_hash is None or not hmac.compare_digest(row.session_hash, _digest(session)):
            raise LinkFailed("this link was started in another browser or session: nothing was linked; start "
                             "it again from your own page, signed in", field="state")
        platform = self.platform(name)
        opened = self.vault.open(row.verifier)
        verifier, kept = (opened["verifier"], opened["kept"]) if isinstance(opened, dict) else (opened, {})
        try:
            token = platform.finish(redirect_uri, code, verifier, kept, callback or {})
            account_id = token.account_id or platform.measure(token).account_id
        except PlatformError as exc:
            raise LinkFailed(exc.message, field="code") from None
        if not account_id:
            raise LinkFailed(f"{name} did not say which account this is; nothing was linked", field="code")
        token.account_id = account_id
        self._claim(row.customer_id, name, account_id=account_id, handle=None)
        # A platform linked for listening only keeps the account's id, never a token.
        self._upsert(row.customer_id, name, source="oauth", token=token if platform.measures else None,
                     account_id=account_id, handle=None)
        return row.customer_id

    def _claim(self, customer_id: int, name: str, *, account_id: str | None, handle: str | None) -> None:
        """Raise :class:`LinkFailed` when another customer holds this platform
        account (by its id, or by its handle once proved or measured): one
        account counts for one customer at a time. The holder is told."""
        same = []
        if account_id:
            same.append(linked_accounts.c.account_id == account_id)
        if handle:
            same.append(and_(linked_accounts.c.handle == handle, or_(
                linked_accounts.c.source == "oauth", linked_accounts.c.proved_at.is_not(None))))
        if not same:
            return
        with self.engine.connect() as conn:
            holder = conn.execute(select(linked_accounts.c.customer_id).where(and_(
                linked_accounts.c.platform == name, linked_accounts.c.customer_id != customer_id,
                linked_accounts.c.status.in_(HOLDING), or_(*same))).limit(1)).scalar()
        if holder is None:
            return
        self.tell(holder, "link_refused", f"someone else tried to link your {name} account; it stays yours")
        raise LinkFailed(f"this {name} account is linked to another customer already; nothing was linked. "
                         "If it is yours, unlink it there first", code="account_taken", field="platform")

    def add_handle(self, customer_id: int, name: str, handle: str) -> str:
        """A public handle the customer gave, read without their login. It
        counts for nothing until they prove it is theirs
        (:meth:`prove_handle`); returns the phrase to put in its bio or a post."""
        if name not in HANDLE_PLATFORMS or name not in self.platforms:
            raise ValidationError(f"{name} handles cannot be read here; link the account instead",
                                  field="platform")
        handle = handle.strip().lstrip("@").casefold()
        if not handle or not all(c.isalnum() or c in "._" for c in handle) or len(handle) > 30:
            raise ValidationError("a handle is letters, digits, dots and underscores", field="handle")
        phrase = PHRASE_PREFIX + "".join(secrets.choice(PHRASE_LETTERS) for _ in range(8))
        self._upsert(customer_id, name, source="handle", token=None, handle=handle, proof=phrase)
        return phrase

    def prove_handle(self, customer_id: int, name: str) -> None:
        """Read the customer's handle back through the platform (Instagram's
        ``business_discovery``): once its bio or one of its latest posts holds
        the phrase :meth:`add_handle` gave, the handle is theirs and counts,
        measured there and then. Raises :class:`LinkFailed` while it does not,
        or when the account is another customer's already."""
        with self.engine.connect() as conn:
            row = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.customer_id == customer_id, linked_accounts.c.platform == name,
                linked_accounts.c.source == "handle", linked_accounts.c.status == "linked"))).first()
        if row is None:
            raise NotFound(f"no {name} handle given to prove", field="platform")
        if row.proved_at is not None:
            return
        platform = self.platform(name)
        try:
            found = platform.lookup(row.handle)
        except PlatformError as exc:
            raise LinkFailed(f"@{row.handle} could not be read: {exc.message}", field="handle") from None
        if not any(row.proof.casefold() in text.casefold() for text in found.texts):
            raise LinkFailed(f"{row.proof} is not in the bio or the latest posts of @{row.handle} yet; add it, "
                             "then check again (it can come out once the handle is proved)", code="not_proved",
                             field="handle")
        self._claim(customer_id, name, account_id=found.account_id, handle=row.handle)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(update(linked_accounts).where(linked_accounts.c.id == row.id).values(
                proved_at=now, account_id=found.account_id or None, followers=found.followers,
                engagement_rate=engagement_rate(found.followers, found.posts), posts=len(found.posts),
                measured_at=now, next_refresh_at=now + PROVED_REFRESH_S, failures=0, last_error=None))

    def _upsert(self, customer_id: int, name: str, *, source: str, token: Token | None, handle: str | None,
                proof: str | None = None, account_id: str | None = None):
        now = self.clock()
        values = {"source": source, "token": self.vault.seal(token.to_json()) if token else None,
                  "account_id": token.account_id if token else account_id, "handle": handle, "status": "linked",
                  "linked_at": now, "next_refresh_at": now, "failures": 0, "last_error": None,
                  "last_error_at": None, "followers": None, "engagement_rate": None, "posts": None,
                  "measured_at": None, "proof": proof, "proved_at": None}
        with self.engine.begin() as conn:
            done = conn.execute(update(linked_accounts).where(and_(linked_accounts.c.customer_id == customer_id,
                                                                   linked_accounts.c.platform == name))
                                .values(**values)).rowcount
            if not done:
                conn.execute(insert(linked_accounts).values(customer_id=customer_id, platform=name, **values))

    def unlink(self, customer_id: int, name: str) -> bool:
        """Forget the account's token and figures; whether there was one."""
        with self.engine.begin() as conn:
            return conn.execute(update(linked_accounts).where(and_(
                linked_accounts.c.customer_id == customer_id, linked_accounts.c.platform == name,
                linked_accounts.c.status != "unlinked")).values(
                status="unlinked", token=None, followers=None, engagement_rate=None, posts=None,
                measured_at=None)).rowcount > 0

    def of_customer(self, customer_id: int) -> list[dict]:
        """The customer's accounts as they may see them (no tokens)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(linked_accounts).where(and_(
                linked_accounts.c.customer_id == customer_id, linked_accounts.c.status != "unlinked"))
                .order_by(linked_accounts.c.platform)).all()
        return [{"platform": r.platform, "source": r.source, "handle": r.handle, "status": _shown(r),
                 "followers": r.followers, "engagement_rate": r.engagement_rate, "posts": r.posts,
                 "measured_at": iso(r.measured_at),
                 **({"listening_only": True} if r.platform in self.platforms
                    and not self.platforms[r.platform].measures else {}),
                 **({"proof": r.proof} if r.source == "handle" and r.proved_at is None else {})} for r in rows]


def _shown(row) -> str:
    if row.status == "linked" and row.source == "handle" and row.proved_at is None:
        return "unproved"
    if row.status == "linked":
        if row.measured_at is not None:
            return "measured"
        return "failing" if row.failures else ("handle" if row.source == "handle" else "linked")
    return row.status


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
