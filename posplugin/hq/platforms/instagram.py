"""Instagram professional accounts (business or creator), through the
Instagram API with Instagram Login and the chain's own Meta app.

From Meta's documentation (developers.facebook.com/docs/instagram-platform):
the authorization window ``api.instagram.com/oauth/authorize`` with scope
``instagram_business_basic``; the code exchange at
``api.instagram.com/oauth/access_token`` gives a short-lived token (1 hour)
that ``graph.instagram.com/access_token?grant_type=ig_exchange_token`` trades
for a long-lived one (60 days); ``graph.instagram.com/refresh_access_token?
grant_type=ig_refresh_token`` renews it once it is 24 hours old. The user
node gives ``followers_count`` and ``media_count``, each media ``like_count``
and ``comments_count``. ``business_discovery`` reads another professional
account by username (not age-gated ones). Requests count against Business
Use Case rate limits, reported in the ``X-Business-Use-Case-Usage`` header.
"""

from __future__ import annotations

import json

import requests

from ...timeutil import parse_iso

from .oauth import (
    POSTS,
    AccessRevoked,
    AccountUnavailable,
    Measurement,
    Platform,
    PlatformError,
    PlatformRateLimited,
    Token,
    TokenExpired,
    retry_after,
)

GRAPH_VERSION = "v22.0"
# Usage above this share of any BUC budget (call count, CPU time, total time) pauses the collector.
USAGE_CEILING = 90
# Graph error codes that mean "throttled" (4 app, 17 user, 32 page, 613 custom, 80002 Instagram BUC).
THROTTLED = {4, 17, 32, 613, 80002}
# OAuthException 190 sub-codes: 463 expired; 458 app removed, 460 password changed, 467 invalid.
EXPIRED_SUBCODES = {463}


class Instagram(Platform):
    name = "instagram"
    scopes = ("instagram_business_basic",)
    scope_separator = ","

    def __init__(self, client_id: str, client_secret: str, *, auth_base: str = "https://api.instagram.com",
                 graph_base: str = "https://graph.instagram.com", discovery_user_id: str = "",
                 discovery_token: str = "", **kw):
        super().__init__(client_id, client_secret, **kw)
        self.authorize_url = auth_base + "/oauth/authorize"
        self.token_url = auth_base + "/oauth/access_token"
        self.graph = graph_base.rstrip("/")
        self.discovery_user_id = discovery_user_id
        self.discovery_token = discovery_token

    def adapt(self, session) -> None:
        # Business Login answers the code exchange as {"data": [{access_token, user_id, permissions}]}.
        def unwrap(response):
            body = response.json()
            if isinstance(body.get("data"), list) and body["data"]:
                response._content = json.dumps(body["data"][0]).encode()
            return response
        session.register_compliance_hook("access_token_response", unwrap)

    def after_exchange(self, token: Token) -> Token:
        """The short-lived token traded for a long-lived one (60 days)."""
        body = self._graph_json("/access_token", {"grant_type": "ig_exchange_token",
                                                  "client_secret": self.client_secret,
                                                  "access_token": token.access_token})
        return Token(body["access_token"], None, self.clock() + float(body.get("expires_in", 0)),
                     account_id=token.account_id, scope=token.scope)

    def refresh(self, token: Token) -> Token:
        """Long-lived tokens renew themselves: there is no refresh token."""
        body = self._graph_json("/refresh_access_token", {"grant_type": "ig_refresh_token",
                                                          "access_token": token.access_token})
        return Token(body["access_token"], None, self.clock() + float(body.get("expires_in", 0)),
                     account_id=token.account_id, scope=token.scope)

    def measure(self, token: Token) -> Measurement:
        me = self._graph_json(f"/{GRAPH_VERSION}/me", {
            "fields": "user_id,username,account_type,followers_count,media_count",
            "access_token": token.access_token})
        if me.get("account_type") not in (None, "BUSINESS", "MEDIA_CREATOR", "CREATOR"):
            raise AccountUnavailable("a personal Instagram account; switch it to professional (free) to link it")
        if "followers_count" not in me:
            raise AccountUnavailable("Instagram gave no follower count for this account")
        media = self._graph_json(f"/{GRAPH_VERSION}/me/media", {
            "fields": "id,like_count,comments_count,timestamp,caption,permalink", "limit": str(POSTS),
            "access_token": token.access_token})
        return Measurement(int(me["followers_count"]), _posts(media.get("data", [])),
                           account_id=str(me.get("user_id") or me.get("id") or ""), handle=me.get("username"),
                           recent=_recent(media.get("data", [])))

    def can_lookup(self) -> bool:
        return bool(self.discovery_user_id and self.discovery_token)

    def lookup(self, handle: str) -> Measurement:
        """A professional account by username through ``business_discovery``,
        read with the chain's own professional account."""
        if not (self.discovery_user_id and self.discovery_token):
            raise AccountUnavailable("handles need the chain's own Instagram professional account "
                                     "(instagram_discovery_user_id and instagram_discovery_token)")
        fields = (f"business_discovery.username({handle}){{username,biography,followers_count,media_count,"
                  f"media.limit({POSTS}){{caption,like_count,comments_count,timestamp}}}}")
        body = self._graph_json(f"/{GRAPH_VERSION}/{self.discovery_user_id}",
                                {"fields": fields, "access_token": self.discovery_token})
        found = body.get("business_discovery")
        if not found or "followers_count" not in found:
            raise AccountUnavailable(f"@{handle} is not a public professional account")
        media = found.get("media", {}).get("data", [])
        # The bio and captions are read only for the phrase that proves a handle; never kept.
        texts = [str(found.get("biography") or "")] + [str(m.get("caption") or "") for m in media]
        return Measurement(int(found["followers_count"]), _posts(media), account_id=str(found.get("id") or ""),
                           handle=found.get("username") or handle, texts=texts)

    def _graph_json(self, path: str, params: dict) -> dict:
        response = self._get(self.graph + path, params=params)
        usage = business_usage(response)
        if response.status_code == 200:
            if usage is not None and usage[0] >= USAGE_CEILING:
                # Answered, but near the budget: pause before the next call is refused.
                raise PlatformRateLimited(f"Instagram usage at {usage[0]}% of its budget", usage[1])
            return response.json()
        raise graph_error(response, usage)


def _posts(media: list) -> list[tuple[int, int]]:
    return [(int(m.get("like_count") or 0), int(m.get("comments_count") or 0)) for m in media[:POSTS]]


def _recent(media: list) -> list[dict]:
    """Each post's id, time, caption and address (for listening to consented customers)."""
    out = []
    for m in media[:POSTS]:
        try:
            at = parse_iso(m.get("timestamp", ""))
        except (TypeError, ValueError):
            continue
        if m.get("id") and m.get("caption"):
            out.append({"id": str(m["id"]), "at": at, "text": str(m["caption"]), "url": m.get("permalink") or ""})
    return out


def business_usage(response: requests.Response) -> tuple[int, float] | None:
    """From ``X-Business-Use-Case-Usage``: the highest share used of any
    budget (percent) and the seconds until access is regained."""
    text = response.headers.get("X-Business-Use-Case-Usage")
    if not text:
        return None
    try:
        entries = [e for group in json.loads(text).values() for e in group]
        share = max(max(int(e.get(k, 0)) for k in ("call_count", "total_cputime", "total_time")) for e in entries)
        minutes = max(int(e.get("estimated_time_to_regain_access", 0)) for e in entries)
    except (ValueError, TypeError, AttributeError):
        return None
    return share, max(minutes * 60.0, 60.0)


def graph_error(response: requests.Response, usage=None) -> PlatformError:
    """A Graph API error answer as a platform error."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code, subcode = error.get("code"), error.get("error_subcode")
    message = str(error.get("message", response.reason))[:200]
    if response.status_code == 429 or code in THROTTLED:
        return PlatformRateLimited(f"Instagram throttled: {message}",
                                   usage[1] if usage else retry_after(response))
    if code == 190:
        if subcode in EXPIRED_SUBCODES:
            return TokenExpired(f"Instagram token expired: {message}")
        return AccessRevoked(f"Instagram access ended: {message}")
    if code in (10, 200) or (code in (100, 110) and subcode in (33, 2207013)):
        return AccountUnavailable(f"Instagram account unavailable: {message}")
    return PlatformError(f"Instagram answered {response.status_code}: {message}")


PLATFORM = Instagram
