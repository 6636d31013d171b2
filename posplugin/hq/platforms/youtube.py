"""YouTube channels through Google's OAuth 2.0 for web server apps and the
YouTube Data API v3, with the chain's own Google Cloud project.

From Google's documentation (developers.google.com/identity/protocols/oauth2/web-server,
developers.google.com/youtube/v3/docs/channels/list, /playlistItems/list,
/videos/list): authorize at ``accounts.google.com/o/oauth2/v2/auth`` with
``access_type=offline`` for a refresh token and PKCE (S256); tokens at
``oauth2.googleapis.com/token``; a refresh token that was revoked answers
``invalid_grant``. ``channels.list?mine=true&part=statistics,contentDetails``
gives ``statistics.subscriberCount`` (and ``hiddenSubscriberCount``) and the
uploads playlist; ``videos.list?part=statistics`` gives ``likeCount`` and
``commentCount`` (strings; absent when the owner hides them). Quota spent
answers 403 with reason ``quotaExceeded``; too fast, 429 or 403
``rateLimitExceeded``.
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

QUOTA_REASONS = {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}


class YouTube(Platform):
    name = "youtube"
    scopes = ("https://www.googleapis.com/auth/youtube.readonly",)
    extra_authorize_params = {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}

    def __init__(self, client_id: str, client_secret: str, *, auth_base: str = "https://accounts.google.com",
                 token_base: str = "https://oauth2.googleapis.com",
                 api_base: str = "https://www.googleapis.com", **kw):
        super().__init__(client_id, client_secret, **kw)
        self.authorize_url = auth_base + "/o/oauth2/v2/auth"
        self.token_url = token_base + "/token"
        self.api = api_base.rstrip("/") + "/youtube/v3"

    def measure(self, token: Token) -> Measurement:
        auth = {"Authorization": f"Bearer {token.access_token}"}
        channels = self._json("/channels", {"part": "snippet,statistics,contentDetails", "mine": "true"}, auth)
        if not channels.get("items"):
            raise AccountUnavailable("this Google account has no YouTube channel")
        channel = channels["items"][0]
        statistics = channel.get("statistics", {})
        if "subscriberCount" not in statistics:
            raise AccountUnavailable("YouTube gave no subscriber count for this channel")
        uploads = channel.get("contentDetails", {}).get("relatedPlaylists", {}).get("uploads")
        posts = []
        if uploads:
            items = self._json("/playlistItems", {"part": "contentDetails", "playlistId": uploads,
                                                  "maxResults": str(POSTS)}, auth).get("items", [])
            ids = [i["contentDetails"]["videoId"] for i in items if i.get("contentDetails", {}).get("videoId")]
            if ids:
                videos = self._json("/videos", {"part": "statistics", "id": ",".join(ids)}, auth)
                posts = [(int(v.get("statistics", {}).get("likeCount", 0)),
                          int(v.get("statistics", {}).get("commentCount", 0))) for v in videos.get("items", [])]
        handle = channel.get("snippet", {}).get("customUrl") or channel.get("snippet", {}).get("title")
        return Measurement(int(statistics["subscriberCount"]), posts[:POSTS], account_id=channel.get("id"),
                           handle=handle)

    def _json(self, path: str, params: dict, headers: dict) -> dict:
        response = self._get(self.api + path, params=params, headers=headers)
        if response.status_code == 200:
            return response.json()
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
        message = str(error.get("message", response.reason))[:200]
        if response.status_code == 429 or reasons & QUOTA_REASONS:
            raise PlatformRateLimited(f"YouTube quota or rate limit: {message}",
                                      retry_after(response, 3600.0 if "quotaExceeded" in reasons else 60.0))
        if response.status_code == 401:
            raise TokenExpired(f"YouTube token no longer valid: {message}")
        if response.status_code == 403 and reasons & {"forbidden", "insufficientPermissions"}:
            raise AccessRevoked(f"YouTube access not granted: {message}")
        if response.status_code in (403, 404):
            raise AccountUnavailable(f"YouTube channel unavailable: {message}")
        raise PlatformError(f"YouTube answered {response.status_code}: {message}")


PLATFORM = YouTube
