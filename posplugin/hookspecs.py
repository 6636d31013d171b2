"""Plugin hooks (pluggy), in the manner of datasette's hookspecs.

A plugin is a module or package with functions decorated ``@hookimpl`` and
named like the specs below. Plugins come from the ``hooks_dir`` folder and from
installed packages that declare a ``posplugin`` entry point. A plugin that
raises is logged and skipped; it never takes a till's request down.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("posplugin")
hookimpl = pluggy.HookimplMarker("posplugin")


@hookspec
def register_routes():
    """Return ``[(method, path, handler), ...]`` to serve under ``/hooks``:
    ``handler(store, request)`` returns a JSON-able dict (or raises a
    posplugin error) and is how a vendor's callback becomes identify, queue or
    after-sale events. Routes decide their own authentication (for example a
    vendor's signature) and answer bad signatures with ``errors.Unauthorized``."""


@hookspec(firstresult=True)
def service_level(tier, service_level, followers, engagement_rate, engaged_reach, settings):
    """Return a service level (``standard``, ``priority``, ``murdoch``) to use
    instead of the policy's, or None to keep it."""


@hookspec(firstresult=True)
def prompt_words(kind, level, words, details, language):
    """Return ``{"title", "body", ...}`` to replace a new prompt's words, or None."""


@hookspec(firstresult=True)
def queue_status(lane, length, normal, status, settings):
    """Return ``ok``, ``busy`` or ``long`` to override a lane's status (a store
    rule), or None to keep posplugin's."""


@hookspec
def prompt_changed(prompt, settings):
    """A prompt was created or changed (taken, resolved, expired, escalated).
    Called off the request path; notify other systems from here."""


# -- head office: the customer's side ----------------------------------------

@hookspec(firstresult=True)
def send_code(channel, to, code, language, settings):
    """Send a customer's one-time join code. ``channel`` is ``sms`` (``to`` is
    an E.164 phone number) or ``email``; ``language`` is ``en`` or ``nb``.
    Return True when this plugin took it, None to leave it to another. This is
    how a chain plugs in its SMS gateway. Never log ``to`` or ``code``."""


@hookspec
def platforms(settings):
    """Return a list of platform objects (see ``posplugin.hq.platforms.Platform``):
    each has a ``name`` and knows its authorize URL, token exchange, token
    refresh and how to fetch an account's metrics. A chain adds a platform by
    returning one here; the bundled ones are instagram, tiktok and youtube."""


# -- head office: listening ----------------------------------------------------

@hookspec
def listeners(settings):
    """Return a list of listening sources (see ``posplugin.hq.listening.sources.Source``):
    each has a ``name`` and a ``run(sink, stop)`` that hands every post it
    reads to ``sink`` in the normalised shape of ``POST /hq/v1/heard``
    (``posplugin.hq.listening.posts.Post``) until ``stop`` is set. Head office
    runs each in a thread of its own, in one process, and restarts it with
    backoff when it raises. The bundled ones are instagram, bluesky, mastodon
    and linked; ``listen_sources`` names the ones to run."""


@hookspec(firstresult=True)
def classify_post(text, language, verdict, settings):
    """Return ``{"about", "tone", "why"}`` to replace the built-in verdict on a
    post (a chain's own model), or None to keep it. ``verdict`` is the
    built-in one as a dict. An answer with an unknown ``about`` or ``tone``,
    or a plugin that raises, leaves the built-in verdict in force."""
