"""A bare endpoint for the benchmarks, loaded into a real `posplugin serve`
through ``hooks_dir``: ``POST /hooks/bare`` reads the JSON body and answers
its lane. Same server, same app and hooks around it, no work: the floor."""

from posplugin.hookspecs import hookimpl


def bare(store, request):
    return {"lane": request.get_json()["lane"], "prompt": None}


@hookimpl
def register_routes():
    return [("POST", "/bare", bare)]
