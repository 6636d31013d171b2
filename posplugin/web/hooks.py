"""Routes that plugins register (``register_routes``), served under ``/hooks``."""

from __future__ import annotations

import logging

from flask import jsonify, request

from ..errors import PospluginError

log = logging.getLogger("posplugin.hooks")


def mount(app, store) -> list[str]:
    """Add every plugin route to ``app``; returns the paths mounted."""
    mounted = []
    for routes in store.plugins.each("register_routes"):
        for method, path, handler in routes:
            rule = "/hooks/" + path.lstrip("/")
            app.add_url_rule(rule, endpoint=f"hook:{method}:{rule}", view_func=_view(store, handler),
                             methods=[method.upper()])
            mounted.append(rule)
    return mounted


def _view(store, handler):
    def view(**kwargs):
        try:
            return jsonify(handler(store, request, **kwargs))
        except PospluginError:
            raise
        except Exception:
            # The plugin failed, not the caller: say so, and keep the store running.
            log.exception("plugin route %s failed", request.path)
            return jsonify({"error": {"code": "plugin_failed",
                                      "message": "the plugin behind this route failed; it has been logged"}}), 502
    return view
