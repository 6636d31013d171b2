"""Routes that plugins register (``register_routes``), served under ``/hooks``."""

from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from ...errors import PospluginError, ValidationError

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
        except (PospluginError, HTTPException):  # the caller's mistake (413 included): its own answer
            raise
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
            # A signed payload whose parts have the wrong shape ("sale" a string,
            # "customer" a list): the sender's bad input, not the plugin failing.
            log.warning("plugin route %s refused a payload of an unexpected shape (%s: %s)",
                        request.path, exc.__class__.__name__, str(exc)[:200])
            raise ValidationError("the webhook body does not have the shape this adapter expects "
                                  f"({exc.__class__.__name__})") from None
        except Exception:
            # The plugin failed, not the caller: say so, and keep the store running.
            log.exception("plugin route %s failed", request.path)
            return jsonify({"error": {"code": "plugin_failed",
                                      "message": "the plugin behind this route failed; it has been logged"}}), 502
    return view
