"""Listening sources: each reads one platform and hands posts to a sink.

A source is an object with a ``name`` and ``run(sink, stop)``: it reads until
``stop`` (a ``threading.Event``) is set, calling ``sink(post)`` with each
:class:`posplugin.hq.listening.posts.Post`, and raises when its connection
fails (the runner reconnects it with backoff). Long-lived ones keep a cursor
through ``cursors`` so a restart resumes where they were.
"""

from __future__ import annotations


class Source:
    name = "source"

    def run(self, sink, stop) -> None:  # pragma: no cover - the interface
        raise NotImplementedError
