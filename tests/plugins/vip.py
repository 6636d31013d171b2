"""A sample plugin: every influencer gets Murdoch-level service, prompts say
VIP, and two routes under /hooks (one checks a secret, one always fails)."""

from posplugin.errors import Unauthorized
from posplugin.hookspecs import hookimpl

@hookimpl
def service_level(tier, service_level, followers, engagement_rate, engaged_reach, settings):
    return "murdoch" if tier != "everyday" else None

@hookimpl
def prompt_words(kind, level, words, details, language):
    return {"title": "VIP: " + words["title"], "body": words["body"]}

def echo(store, request):
    if request.headers.get("X-Secret") != "s3cret":
        raise Unauthorized("bad signature")
    return {"echo": request.get_json()}

def broken(store, request):
    raise RuntimeError("boom")

@hookimpl
def register_routes():
    return [("POST", "/demo/echo", echo), ("GET", "/demo/broken", broken)]
