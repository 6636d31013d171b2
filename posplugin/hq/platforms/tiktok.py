"""TikTok accounts through Login Kit for Web and the Display API, with the
chain's own TikTok app.

From TikTok's documentation (developers.tiktok.com/doc/login-kit-web,
/doc/oauth-user-access-token-management, /doc/tiktok-api-v2-get-user-info,
/doc/tiktok-api-v2-video-list): authorize at ``www.tiktok.com/v2/auth/authorize/``
with ``client_key`` and comma-separated scopes; tokens at
``open.tiktokapis.com/v2/oauth/token/`` (form fields ``client_key``,
``client_secret``, ``code``, ``grant_type``, ``redirect_uri``,
``code_verifier``; answer ``access_token``, ``expires_in`` (24 hours),
``open_id``, ``refresh_token``, ``refresh_expires_in`` (365 days), ``scope``).
``/v2/user/info/`` gives ``follower_count``, ``likes_count`` and
``video_count`` under ``user.info.stats``; ``/v2/video/list/`` gives each
video's ``like_count`` and ``comment_count`` under ``video.list``. Every
answer carries ``error: {code, message, log_id}``, ``code`` "ok" on success.
"""

from __future__ import annotations

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

USER_FIELDS = "open_id,username,display_name,follower_count,likes_count,video_count"
VIDEO_FIELDS = "id,create_time,like_count,comment_count"


class TikTok(Platform):
    name = "tiktok"
    # user.info.stats for followers; video.list for each video's likes and comments (the median needs them).
    scopes = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")
    scope_separator = ","

    def __init__(self, client_id: str, client_secret: str, *, auth_base: str = "https://www.tiktok.com",
                 api_base: str = "https://open.tiktokapis.com", **kw):
        super().__init__(client_id, client_secret, **kw)
        self.authorize_url = auth_base + "/v2/auth/authorize/"
        self.token_url = api_base + "/v2/oauth/token/"
        self.api = api_base.rstrip("/")
        # TikTok names the client "client_key", in the authorize URL and at the token endpoint.
        self.extra_authorize_params = {"client_key": client_id}

    def token_params(self) -> dict:
        return {"client_key": self.client_id}

    def measure(self, token: Token) -> Measurement:
        auth = {"Authorization": f"Bearer {token.access_token}"}
        user = self._answer(self._get(f"{self.api}/v2/user/info/", params={"fields": USER_FIELDS}, headers=auth))
        user = user.get("user", {})
        if "follower_count" not in user:
            raise AccountUnavailable("TikTok gave no follower count (user.info.stats not granted)")
        try:
            response = self.http.post(f"{self.api}/v2/video/list/", params={"fields": VIDEO_FIELDS},
                                      json={"max_count": min(POSTS, 20)}, headers=auth, timeout=20)
        except Exception as exc:
            raise PlatformError(f"tiktok could not be reached: {exc.__class__.__name__}") from None
        videos = self._answer(response).get("videos", [])
        posts = [(int(v.get("like_count") or 0), int(v.get("comment_count") or 0)) for v in videos[:POSTS]]
        return Measurement(int(user["follower_count"]), posts, account_id=user.get("open_id"),
                           handle=user.get("username") or user.get("display_name"))

    def _answer(self, response) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise PlatformError(f"TikTok answered {response.status_code} without JSON") from None
        error = body.get("error") or {}
        code = error.get("code", "ok" if response.status_code == 200 else "unknown")
        message = str(error.get("message", ""))[:200]
        if code == "ok" and response.status_code == 200:
            return body.get("data") or {}
        if response.status_code == 429 or code == "rate_limit_exceeded":
            raise PlatformRateLimited(f"TikTok throttled: {message}", retry_after(response, 60.0))
        if code == "access_token_invalid":
            raise TokenExpired(f"TikTok token no longer valid: {message}")
        if code in ("scope_not_authorized", "scope_permission_missed"):
            raise AccessRevoked(f"TikTok access to statistics was not granted: {message}")
        if code in ("user_has_no_permission", "account_private", "spam_risk_user_banned_from_posting"):
            raise AccountUnavailable(f"TikTok account unavailable: {message}")
        raise PlatformError(f"TikTok answered {response.status_code} {code}: {message}")


PLATFORM = TikTok
