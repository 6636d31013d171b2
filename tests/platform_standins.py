"""Stand-ins for Instagram, TikTok and Google/YouTube on 127.0.0.1, answering
as each platform documents: authorize redirects, token exchange (PKCE checked
where the platform requires it), refresh, metric answers with the documented
field names, and the documented errors (expired token, revoked access, rate
limits with Meta's usage header, private or age-gated accounts).

``StandIns.fail[platform]`` picks an error mode for the next calls:
``expired``, ``revoked``, ``rate_limited``, ``near_limit``, ``private``.
Each approval of an authorization is by another person (their own user id)
unless ``StandIns.login_as[platform]`` names who logs in.

Listening's stand-ins: the chain's mentioned and tagged media at the Graph,
Mastodon's streaming API; Jetstream and Meta's webhook deliveries are the
demo's (:mod:`posplugin.demo.listening`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request

from posplugin.demo import listening as demo_listening
from posplugin.demo.listening import CHAIN_ACCOUNT, Jetstream, meta_delivery  # noqa: F401 (the demo's, shared)
from posplugin.hq.platforms.instagram import Instagram
from posplugin.hq.platforms.tiktok import TikTok
from posplugin.hq.platforms.youtube import YouTube

# User ids as each platform writes them (Instagram's professional account id,
# TikTok's open_id, a YouTube channel id); {} is a number per person.
USER_IDS = {"instagram": "1784140000000{:04d}", "tiktok": "open-{:04d}", "youtube": "UC{:04d}"}
SAM_IDS = {"instagram": "17841400000000001", "tiktok": "open-sam", "youtube": "UCsam"}
CLIENT = {"instagram": ("ig-app", "ig-secret"), "tiktok": ("tt-key", "tt-secret"),
          "youtube": ("yt-client.apps.googleusercontent.com", "yt-secret")}


@dataclass
class Account:
    followers: int
    posts: list[tuple[int, int]]
    username: str = "standin"
    account_type: str = "MEDIA_CREATOR"
    user_id: str = "17841401441775531"  # its IG user id, as business_discovery gives it
    biography: str = ""
    captions: list[str] = field(default_factory=list)  # of its latest posts, newest first


@dataclass
class StandIns:
    accounts: dict = field(default_factory=lambda: {
        "instagram": Account(4200, [(250, 10)] * 12, "sam.runs"),
        "tiktok": Account(12000, [(900, 60)] * 12, "samruns"),
        "youtube": Account(3000, [(100, 20)] * 12, "@samruns"),
    })
    fail: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)      # code -> {platform, redirect_uri, challenge}
    tokens: dict = field(default_factory=dict)     # access token -> platform
    refresh_tokens: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    url: str = ""
    # Who approves the next authorizations on a platform (its user id there);
    # unset, each approval is by another person, with an id of their own.
    login_as: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)      # access or refresh token -> the user it is for
    people: itertools.count = field(default_factory=lambda: itertools.count(2))
    # Listening: the chain's own Instagram account, the media and comments it
    # is mentioned in, the media it is tagged in; Mastodon's statuses.
    media: dict = field(default_factory=dict)      # media id -> {caption, timestamp, permalink, username}
    comments: dict = field(default_factory=dict)   # comment id -> {text, timestamp, username, media}
    tagged: list = field(default_factory=list)     # media ids
    mastodon: list = field(default_factory=list)   # (stream, event, payload) in order; stream "user" or a tag

    def issue(self, platform: str, user: str | None = None) -> str:
        token = f"{platform[:2]}-{secrets.token_hex(8)}"
        self.tokens[token] = platform
        if user:
            self.users[token] = user
        return token

    def approver(self, platform: str) -> str:
        """The user id of whoever approves an authorization on ``platform`` now."""
        return self.login_as.get(platform) or USER_IDS[platform].format(next(self.people))


CHAIN_TOKEN = "ig-chain-token"
MASTODON_TOKEN = "md-chain-token"


def meta_signature(body: bytes, secret: str = "ig-secret") -> str:
    """``X-Hub-Signature-256`` as Meta computes it (the tests' app secret by default)."""
    return demo_listening.meta_signature(body, secret)


def mastodon_status(status_id: int, text: str, *, acct: str = "someone@example.social", at: str = "") -> dict:
    """A Status entity with the fields Mastodon documents (those listening reads)."""
    return {"id": str(status_id), "uri": f"https://example.social/users/x/statuses/{status_id}",
            "url": f"https://example.social/@x/{status_id}", "created_at": at or "2026-12-05T10:00:00.000Z",
            "content": f"<p>{text}</p>", "visibility": "public", "language": "en",
            "account": {"id": "1", "acct": acct}}


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def create_app(state: StandIns) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def record():
        state.calls.append((request.method, request.path))

    def authorize(platform: str, client_field: str, pkce_required: bool, extra: dict):
        args = request.args
        client_id, _ = CLIENT[platform]
        if args.get(client_field) != client_id or args.get("response_type") != "code" or not args.get("redirect_uri"):
            return jsonify({"error": "invalid_request"}), 400
        if pkce_required and (args.get("code_challenge_method") != "S256" or not args.get("code_challenge")):
            return jsonify({"error": "invalid_request", "error_description": "code_challenge required"}), 400
        code = secrets.token_hex(8)
        state.codes[code] = {"platform": platform, "redirect_uri": args["redirect_uri"],
                             "challenge": args.get("code_challenge"), "scope": args.get("scope", ""),
                             "user": state.approver(platform)}
        query = {"code": code, "state": args.get("state", ""), **extra}
        # Instagram appends "#_" to the redirect; browsers drop it with the fragment.
        return redirect(args["redirect_uri"] + "?" + urlencode(query) + ("#_" if platform == "instagram" else ""))

    def take_code(platform: str, form, client_field: str) -> dict | None:
        client_id, secret = CLIENT[platform]
        grant = state.codes.pop(form.get("code", ""), None)
        if form.get(client_field) != client_id or form.get("client_secret") != secret or grant is None \
                or grant["platform"] != platform or grant["redirect_uri"] != form.get("redirect_uri"):
            return None
        if grant["challenge"] and _challenge(form.get("code_verifier", "")) != grant["challenge"]:
            return None
        return grant

    # -- Instagram (Business Login, graph.instagram.com) ---------------------

    @app.get("/ig/oauth/authorize")
    def ig_authorize():
        return authorize("instagram", "client_id", False, {})

    @app.post("/ig/oauth/access_token")
    def ig_token():
        grant = request.form.get("grant_type") == "authorization_code" and take_code("instagram", request.form,
                                                                                     "client_id")
        if not grant:
            return jsonify({"error_type": "OAuthException", "code": 400,
                            "error_message": "Invalid authorization code"}), 400
        return jsonify({"data": [{"access_token": state.issue("instagram-short", grant["user"]),
                                  "user_id": grant["user"], "permissions": "instagram_business_basic"}]})

    def ig_error(code: int, subcode: int | None, message: str, status: int = 400, headers=None):
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
        if subcode:
            error["error_subcode"] = subcode
        return jsonify({"error": error}), status, headers or {}

    def ig_usage(share: int, minutes: int) -> dict:
        return {"X-Business-Use-Case-Usage": json.dumps({"17841400000000001": [{
            "type": "instagram", "call_count": share, "total_cputime": 1, "total_time": 1,
            "estimated_time_to_regain_access": minutes}]})}

    @app.get("/ig/graph/access_token")
    def ig_exchange():
        args = request.args
        if args.get("grant_type") != "ig_exchange_token" or args.get("client_secret") != CLIENT["instagram"][1] \
                or state.tokens.pop(args.get("access_token", ""), None) != "instagram-short":
            return ig_error(190, None, "Invalid OAuth access token.")
        return jsonify({"access_token": state.issue("instagram", state.users.get(args["access_token"])),
                        "token_type": "bearer", "expires_in": 5183944})

    @app.get("/ig/graph/refresh_access_token")
    def ig_refresh():
        args = request.args
        if state.fail.get("instagram") == "revoked":
            return ig_error(190, 460, "Error validating access token: the session has been invalidated.")
        token = args.get("access_token", "")
        if args.get("grant_type") != "ig_refresh_token" or state.tokens.get(token) != "instagram":
            return ig_error(190, None, "Invalid OAuth access token.")
        state.tokens.pop(args["access_token"])
        return jsonify({"access_token": state.issue("instagram", state.users.get(token)), "token_type": "bearer",
                        "expires_in": 5183944})

    def ig_checked():
        mode = state.fail.get("instagram")
        if mode == "expired":
            return ig_error(190, 463, "Error validating access token: Session has expired.")
        if mode == "revoked":
            return ig_error(190, 460, "Error validating access token: the user has changed the password.")
        if mode == "rate_limited":
            return ig_error(80002, None, "There have been too many calls to this Instagram account.", 429,
                            ig_usage(100, 17))
        if state.tokens.get(request.args.get("access_token", "")) != "instagram":
            return ig_error(190, None, "Invalid OAuth access token - Cannot parse access token")
        return None

    @app.get("/ig/graph/<version>/me")
    def ig_me(version):
        if refused := ig_checked():
            return refused
        account = state.accounts["instagram"]
        headers = ig_usage(95, 5) if state.fail.get("instagram") == "near_limit" else ig_usage(12, 0)
        user = state.users.get(request.args.get("access_token", ""), SAM_IDS["instagram"])
        return jsonify({"user_id": user, "username": account.username,
                        "account_type": account.account_type, "followers_count": account.followers,
                        "media_count": len(account.posts), "id": "app-scoped-" + user}), 200, headers

    @app.get("/ig/graph/<version>/me/media")
    def ig_media(version):
        if refused := ig_checked():
            return refused
        limit = int(request.args.get("limit", "25"))
        posts = state.accounts["instagram"].posts[:limit]
        return jsonify({"data": [{"id": str(18000000000 + i), "like_count": likes, "comments_count": comments,
                                  "timestamp": "2026-11-01T12:00:00+0000"} for i, (likes, comments) in
                                 enumerate(posts)], "paging": {"cursors": {"before": "a", "after": "b"}}})

    @app.get("/ig/graph/<version>/<user_id>")
    def ig_discovery(version, user_id):
        if refused := ig_checked():
            return refused
        fields = request.args.get("fields", "")
        mentioned = re.match(r"mentioned_(media)\.media_id\((\w+)\)\{([^}]*)\}|"
                             r"mentioned_(comment)\.comment_id\((\w+)\)\{(.*)\}$", fields)
        if mentioned and user_id == CHAIN_ACCOUNT:
            kind, key = (mentioned.group(1), mentioned.group(2)) if mentioned.group(1) else \
                (mentioned.group(4), mentioned.group(5))
            item = (state.media if kind == "media" else state.comments).get(key)
            if item is None:
                return ig_error(100, 33, f"Unsupported get request. Object with ID '{key}' does not exist")
            return jsonify({f"mentioned_{kind}": {"id": key, **item}, "id": user_id})
        found = re.match(r"business_discovery\.username\(([^)]+)\)", fields)
        if not found:
            return ig_error(100, None, "Tried accessing nonexisting field")
        handle = found.group(1)
        account = state.accounts.get(f"instagram:{handle}")
        if account is None or state.fail.get("instagram") == "private":
            # Not professional, private or age-gated: Meta answers "cannot be found".
            return ig_error(110, 2207013, f"Invalid user id: {handle} cannot be found")
        fields = request.args.get("fields", "")
        captions = account.captions + [""] * len(account.posts)
        media = [{"like_count": likes, "comments_count": comments, "id": str(i),
                  **({"caption": captions[i]} if "caption" in fields and captions[i] else {})}
                 for i, (likes, comments) in enumerate(account.posts[:12])]
        found = {"username": handle, "followers_count": account.followers, "media_count": len(account.posts),
                 "media": {"data": media}, "id": account.user_id}
        if "biography" in fields and account.biography:
            found["biography"] = account.biography
        return jsonify({"business_discovery": found, "id": user_id})

    @app.get("/ig/graph/<version>/<user_id>/tags")
    def ig_tags(version, user_id):
        refused = ig_checked()
        if refused:
            return refused
        return jsonify({"data": [{"id": key, **state.media[key]} for key in state.tagged],
                        "paging": {"cursors": {"before": "a", "after": "b"}}})

    # -- Mastodon (streaming API and the REST it resumes with) ------------------

    def mastodon_checked():
        return request.headers.get("Authorization") == f"Bearer {MASTODON_TOKEN}"

    def sse(stream: str):
        from flask import Response

        # No request context in the body: the stand-in's stream may outlive the
        # request that opened it when the client hangs up.
        def body():
            sent = 0
            yield ":)\n"
            for _ in range(400):  # at most 20 s; the client reconnects
                items = [i for i in state.mastodon if i[0] == stream]
                for _, event, payload in items[sent:]:
                    yield f"event: {event}\ndata: {json.dumps(payload)}\n\n"
                sent = len(items)
                if state.fail.get("mastodon") == "drop":
                    return
                yield ":thump\n"
                time.sleep(0.05)
        return Response(body(), mimetype="text/event-stream")

    @app.get("/mastodon/api/v1/streaming/user/notification")
    def md_notifications_stream():
        return sse("user") if mastodon_checked() else (jsonify({"error": "The access token is invalid"}), 401)

    @app.get("/mastodon/api/v1/streaming/hashtag")
    def md_tag_stream():
        return sse(request.args.get("tag", "")) if mastodon_checked() else (jsonify({"error": "invalid"}), 401)

    @app.get("/mastodon/api/v1/notifications")
    def md_notifications():
        since = int(request.args.get("since_id", "0"))
        found = [p for s, e, p in state.mastodon if s == "user" and int(p["id"]) > since
                 and p.get("type") in request.args.getlist("types[]")]
        return jsonify(list(reversed(found)))  # newest first, as Mastodon answers

    @app.get("/mastodon/api/v1/timelines/tag/<tag>")
    def md_tag_timeline(tag):
        since = int(request.args.get("since_id", "0"))
        return jsonify(list(reversed([p for s, e, p in state.mastodon if s == tag and int(p["id"]) > since])))

    # -- TikTok (Login Kit for Web, open.tiktokapis.com) ---------------------

    @app.get("/tt/v2/auth/authorize/")
    def tt_authorize():
        return authorize("tiktok", "client_key", True, {"scopes": request.args.get("scope", "")})

    def tt_token_answer(user: str):
        access, refresh = state.issue("tiktok", user), "rft." + secrets.token_hex(8)
        state.refresh_tokens[refresh] = "tiktok"
        state.users[refresh] = user
        return jsonify({"access_token": access, "expires_in": 86400, "open_id": user,
                        "refresh_expires_in": 31536000, "refresh_token": refresh,
                        "scope": "user.info.basic,user.info.profile,user.info.stats,video.list",
                        "token_type": "Bearer"})

    @app.post("/tt/v2/oauth/token/")
    def tt_token():
        form = request.form
        error = {"error": "invalid_grant", "error_description": "Authorization code is expired.",
                 "log_id": "202611281200"}
        if form.get("grant_type") == "authorization_code":
            grant = take_code("tiktok", form, "client_key")
            return tt_token_answer(grant["user"]) if grant else (jsonify(error), 400)
        if form.get("grant_type") == "refresh_token":
            if state.fail.get("tiktok") == "revoked" or form.get("client_key") != CLIENT["tiktok"][0] \
                    or state.refresh_tokens.pop(form.get("refresh_token", ""), None) != "tiktok":
                return jsonify({**error, "error_description": "Refresh token is invalid or expired."}), 400
            return tt_token_answer(state.users.get(form["refresh_token"], SAM_IDS["tiktok"]))
        return jsonify({"error": "invalid_request", "error_description": "grant_type", "log_id": "1"}), 400

    def tt_error(code: str, message: str, status: int):
        return jsonify({"data": {}, "error": {"code": code, "message": message, "log_id": "202611281200"}}), status

    def tt_checked():
        mode = state.fail.get("tiktok")
        if mode == "rate_limited":
            return tt_error("rate_limit_exceeded", "API rate limit was exceeded.", 429)
        if mode == "revoked":
            return tt_error("scope_not_authorized", "The user did not authorize the scope required.", 401)
        if mode == "expired" or state.tokens.get(request.headers.get("Authorization", "")[7:]) != "tiktok":
            return tt_error("access_token_invalid", "The access token is invalid or not found in the request.", 401)
        return None

    @app.get("/tt/v2/user/info/")
    def tt_user():
        if refused := tt_checked():
            return refused
        account = state.accounts["tiktok"]
        user = {"open_id": state.users.get(request.headers.get("Authorization", "")[7:], SAM_IDS["tiktok"]),
                "username": account.username, "display_name": "Sam",
                "follower_count": account.followers, "likes_count": sum(p[0] for p in account.posts),
                "video_count": len(account.posts)}
        fields = request.args.get("fields", "").split(",")
        return jsonify({"data": {"user": {k: v for k, v in user.items() if k in fields}},
                        "error": {"code": "ok", "message": "", "log_id": "202611281200"}})

    @app.post("/tt/v2/video/list/")
    def tt_videos():
        if refused := tt_checked():
            return refused
        count = min(int((request.get_json() or {}).get("max_count", 10)), 20)
        posts = state.accounts["tiktok"].posts[:count]
        return jsonify({"data": {"videos": [{"id": str(7000 + i), "like_count": likes, "comment_count": comments,
                                             "create_time": 1764000000 - i} for i, (likes, comments) in
                                            enumerate(posts)], "cursor": 1764000000, "has_more": False},
                        "error": {"code": "ok", "message": "", "log_id": "202611281200"}})

    # -- Google OAuth and the YouTube Data API -------------------------------

    @app.get("/google/o/oauth2/v2/auth")
    def g_authorize():
        if request.args.get("access_type") != "offline":
            return jsonify({"error": "invalid_request"}), 400
        return authorize("youtube", "client_id", False, {"scope": request.args.get("scope", "")})

    def g_token_answer(user: str | None, with_refresh: bool):
        body = {"access_token": state.issue("youtube", user), "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/youtube.readonly", "token_type": "Bearer"}
        if with_refresh:
            refresh = "1//" + secrets.token_hex(8)
            state.refresh_tokens[refresh] = "youtube"
            state.users[refresh] = user
            body["refresh_token"] = refresh
        return jsonify(body)

    @app.post("/google/token")
    def g_token():
        form = request.form
        grant = form.get("grant_type") == "authorization_code" and take_code("youtube", form, "client_id")
        if grant:
            return g_token_answer(grant["user"], True)
        if form.get("grant_type") == "refresh_token" and state.fail.get("youtube") != "revoked" \
                and state.refresh_tokens.get(form.get("refresh_token", "")) == "youtube":
            return g_token_answer(state.users.get(form["refresh_token"]), False)
        return jsonify({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}), 400

    def g_error(status: int, reason: str, message: str):
        return jsonify({"error": {"code": status, "message": message, "errors": [
            {"message": message, "domain": "youtube.quota" if "uota" in reason else "global", "reason": reason}],
            "status": "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED"}}), status

    def g_checked():
        mode = state.fail.get("youtube")
        if mode == "rate_limited":
            return g_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded "
                                                 "your quota.")
        if mode == "expired" or state.tokens.get(request.headers.get("Authorization", "")[7:]) != "youtube":
            return g_error(401, "authError", "Request had invalid authentication credentials.")
        return None

    @app.get("/gapi/youtube/v3/channels")
    def yt_channels():
        if refused := g_checked():
            return refused
        if state.fail.get("youtube") == "private":
            return jsonify({"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 0}, "items": []})
        account = state.accounts["youtube"]
        return jsonify({"kind": "youtube#channelListResponse", "items": [{
            "kind": "youtube#channel",
            "id": state.users.get(request.headers.get("Authorization", "")[7:]) or SAM_IDS["youtube"],
            "snippet": {"title": "Sam runs", "customUrl": account.username},
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UUsam"}},
            "statistics": {"viewCount": "123456", "subscriberCount": str(account.followers),
                           "hiddenSubscriberCount": False, "videoCount": str(len(account.posts))}}]})

    @app.get("/gapi/youtube/v3/playlistItems")
    def yt_playlist():
        if refused := g_checked():
            return refused
        count = int(request.args.get("maxResults", "5"))
        return jsonify({"kind": "youtube#playlistItemListResponse", "items": [
            {"kind": "youtube#playlistItem", "contentDetails": {"videoId": f"v{i}"}}
            for i in range(min(count, len(state.accounts["youtube"].posts)))]})

    @app.get("/gapi/youtube/v3/videos")
    def yt_videos():
        if refused := g_checked():
            return refused
        posts = state.accounts["youtube"].posts
        ids = request.args.get("id", "").split(",")
        return jsonify({"kind": "youtube#videoListResponse", "items": [
            {"kind": "youtube#video", "id": vid, "statistics": {
                "viewCount": "1000", "likeCount": str(posts[int(vid[1:])][0]),
                "favoriteCount": "0", "commentCount": str(posts[int(vid[1:])][1])}} for vid in ids]})

    return app


def platforms(state: StandIns, clock=None) -> dict:
    """The bundled platforms pointed at the stand-ins (the chain's app ids as above)."""
    kw = {"clock": clock} if clock else {}
    return {
        "instagram": Instagram(*CLIENT["instagram"], auth_base=state.url + "/ig", graph_base=state.url + "/ig/graph",
                               discovery_user_id="17841400000000001", discovery_token="", **kw),
        "tiktok": TikTok(*CLIENT["tiktok"], auth_base=state.url + "/tt", api_base=state.url + "/tt", **kw),
        "youtube": YouTube(*CLIENT["youtube"], auth_base=state.url + "/google", token_base=state.url + "/google",
                           api_base=state.url + "/gapi", **kw),
    }
