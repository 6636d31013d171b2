"""A platform a customer links (Instagram, TikTok, YouTube, or one a chain
adds through the ``platforms`` hook): OAuth 2.0 authorization code with PKCE
through Authlib, token refresh, and reading an account's metrics.

A platform answers in :class:`Token` and :class:`Measurement`, and fails
with the errors below, so the collector treats every platform alike: back
off on :class:`PlatformRateLimited`, refresh on :class:`TokenExpired`, stop
and age out on :class:`AccessRevoked` and :class:`AccountUnavailable`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

POSTS = 12  # engagement is measured over this many recent posts
TIMEOUT_S = 20.0


class PlatformError(Exception):
    """A platform refused or failed; ``reason`` is a short code for status pages."""

    reason = "failed"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PlatformRateLimited(PlatformError):
    """Slow down: try again after ``retry_after_s``."""

    reason = "rate_limited"

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TokenExpired(PlatformError):
    """The access token has expired: refresh it, then try again."""

    reason = "token_expired"


class AccessRevoked(PlatformError):
    """The customer took access back (or it lapsed for good): link again."""

    reason = "revoked"


class AccountUnavailable(PlatformError):
    """The account cannot be measured: private, age-gated, or not a professional account."""

    reason = "unavailable"


@dataclass
class Token:
    """What a platform granted; times are epoch seconds (None when not said)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    account_id: str | None = None
    scope: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, value: dict) -> "Token":
        return cls(**value)


@dataclass
class Measurement:
    """An account's followers and its most recent posts' (likes, comments)."""

    followers: int
    posts: list[tuple[int, int]] = field(default_factory=list)
    # The same posts' id, time (epoch seconds), text and address, where the
    # platform gives them: listening hears consented customers' posts from here.
    recent: list[dict] = field(default_factory=list)
    account_id: str | None = None
    handle: str | None = None
    texts: list[str] = field(default_factory=list)  # its bio and latest captions, where read (a handle's proof)


class Platform:
    """A platform a customer can link. Subclasses set the endpoints and
    implement :meth:`measure`; most need nothing else for OAuth."""

    name = ""
    authorize_url = ""
    token_url = ""
    scopes: tuple[str, ...] = ()
    scope_separator = " "
    extra_authorize_params: dict = {}
    token_auth_method = "client_secret_post"
    # Whether the collector measures accounts here; one that does not (Bluesky,
    # linked for listening only) keeps the account's id and no token.
    measures = True

    def __init__(self, client_id: str, client_secret: str, *, session: requests.Session | None = None,
                 clock=time.time):
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = session or requests.Session()
        self.clock = clock

    # -- OAuth (Authlib) ---------------------------------------------------

    def _oauth(self, redirect_uri: str) -> OAuth2Session:
        session = OAuth2Session(self.client_id, self.client_secret, scope=self.scope_separator.join(self.scopes),
                                redirect_uri=redirect_uri or None, code_challenge_method="S256",
                                token_endpoint_auth_method=self.token_auth_method)
        self.adapt(session)
        return session

    def adapt(self, session: OAuth2Session) -> None:
        """Authlib compliance hooks for a platform's deviations from RFC 6749."""

    @staticmethod
    def new_verifier() -> str:
        """A PKCE code verifier (RFC 7636: 43 to 128 characters)."""
        return generate_token(64)

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        """Where to send the customer to grant access (with the S256 code challenge)."""
        url, _ = self._oauth(redirect_uri).create_authorization_url(
            self.authorize_url, state=state, code_verifier=code_verifier, **self.extra_authorize_params)
        return url

    def begin(self, redirect_uri: str, state: str, code_verifier: str, *, handle: str | None = None
              ) -> tuple[str, dict]:
        """Where to send the customer, and what the callback needs besides the
        verifier (kept sealed until then); ``handle`` is what the customer
        typed, for platforms that start from one (Bluesky)."""
        return self.authorization_url(redirect_uri, state, code_verifier), {}

    def finish(self, redirect_uri: str, code: str, code_verifier: str, kept: dict, callback: dict) -> Token:
        """The tokens for the code the platform called back with; ``kept`` is
        what :meth:`begin` kept, ``callback`` the callback's other parameters."""
        return self.exchange(redirect_uri, code, code_verifier)

    def exchange(self, redirect_uri: str, code: str, code_verifier: str) -> Token:
        """Trade the authorization code (and the PKCE verifier) for tokens."""
        try:
            granted = self._oauth(redirect_uri).fetch_token(self.token_url, code=code, code_verifier=code_verifier,
                                                            timeout=TIMEOUT_S, **self.token_params())
        except OAuthError as exc:
            raise AccessRevoked(f"{self.name} refused the code: {exc.error}") from None
        except requests.RequestException as exc:
            raise PlatformError(f"{self.name} could not be reached: {exc.__class__.__name__}") from None
        return self.after_exchange(self.token_from(granted))

    def refresh(self, token: Token) -> Token:
        """A new access token from the refresh token; :class:`AccessRevoked` when refused."""
        if not token.refresh_token:
            raise AccessRevoked(f"{self.name} gave no refresh token; link again")
        try:
            granted = self._oauth("").refresh_token(self.token_url, refresh_token=token.refresh_token,
                                                    timeout=TIMEOUT_S, **self.token_params())
        except OAuthError as exc:
            raise AccessRevoked(f"{self.name} refused the refresh: {exc.error}") from None
        except requests.RequestException as exc:
            raise PlatformError(f"{self.name} could not be reached: {exc.__class__.__name__}") from None
        fresh = self.token_from(granted)
        fresh.refresh_token = fresh.refresh_token or token.refresh_token
        fresh.account_id = fresh.account_id or token.account_id
        return fresh

    def token_params(self) -> dict:
        """Extra form fields for the token endpoint (TikTok's ``client_key``)."""
        return {}

    def token_from(self, granted: dict) -> Token:
        now = self.clock()
        return Token(access_token=granted["access_token"], refresh_token=granted.get("refresh_token"),
                     expires_at=now + float(granted["expires_in"]) if granted.get("expires_in") else None,
                     refresh_expires_at=now + float(granted["refresh_expires_in"])
                     if granted.get("refresh_expires_in") else None,
                     account_id=str(granted.get("open_id") or granted.get("user_id") or "") or None,
                     scope=str(granted.get("scope") or ""))

    def after_exchange(self, token: Token) -> Token:
        """A last step after the code exchange (Instagram: the long-lived token)."""
        return token

    def needs_refresh(self, token: Token, margin_s: float) -> bool:
        """Whether ``token`` expires within ``margin_s``."""
        return token.expires_at is not None and token.expires_at - margin_s <= self.clock()

    # -- metrics -----------------------------------------------------------

    def measure(self, token: Token) -> Measurement:
        """The account's followers and its last posts' likes and comments."""
        raise NotImplementedError

    def can_lookup(self) -> bool:
        """Whether :meth:`lookup` can read a handle here (else provider exports fill them in)."""
        return False

    def lookup(self, handle: str) -> Measurement:
        """A public professional account by handle, without the customer's login."""
        raise AccountUnavailable(f"{self.name} cannot look up a handle")

    def _get(self, url: str, **kw) -> requests.Response:
        try:
            return self.http.get(url, timeout=TIMEOUT_S, **kw)
        except requests.RequestException as exc:
            raise PlatformError(f"{self.name} could not be reached: {exc.__class__.__name__}") from None


def retry_after(response: requests.Response, default_s: float = 3600.0) -> float:
    """Seconds from a ``Retry-After`` header (seconds form), else ``default_s``."""
    text = response.headers.get("Retry-After", "")
    return float(text) if text.isdigit() else default_s
