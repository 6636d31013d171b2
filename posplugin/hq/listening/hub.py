"""Head office's listening, wired once from its settings: what was heard
(:class:`.heard.Listening`), the Instagram webhook's reader, and the sources
the background runner keeps connected. The web room and ``hq serve`` take it
from here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ...config.hq import listen_sources
from .heard import Listening
from .posts import Post, plain_text
from .sources.instagram import Graph, TaggedMedia, WebhookReader

log = logging.getLogger("posplugin.hq.listening")


@dataclass
class ListeningHub:
    listening: Listening
    settings: object
    graph: Graph | None = None
    reader: WebhookReader | None = None
    plugins: object = None
    extra_sources: list = field(default_factory=list)

    @classmethod
    def open(cls, office, settings, *, plugins=None, session=None) -> "ListeningHub":
        listening = Listening.from_settings(office.engine, settings, clock=office.clock, plugins=plugins)
        hub = cls(listening, settings, plugins=plugins)
        if settings.instagram_account_id and settings.instagram_account_token:
            hub.graph = Graph(settings.instagram_graph_url, settings.instagram_account_id,
                              settings.instagram_account_token, session=session)
            hub.reader = WebhookReader(hub.graph, hub.hear, hub.seen)
        return hub

    def hear(self, post):
        return self.listening.hear(post)

    def seen(self, source: str, post_id: str) -> bool:
        return self.listening._get_by_post(source, post_id) is not None

    def sources(self, cursors) -> list:
        """The long-lived and polled sources ``listen_sources`` names, made from settings and plugins."""
        from .sources.bluesky import Jetstream
        from .sources.mastodon import MastodonStreams

        s = self.settings
        names = listen_sources(s.listen_sources)
        made = []
        if "instagram" in names and self.graph is not None:
            made.append(TaggedMedia(self.graph, s.instagram_tags_minutes * 60.0))
        if "bluesky" in names:
            made.append(Jetstream(s.bluesky_jetstream_url, cursors, chain_dids=s.bluesky_chain_dids,
                                  handles=self.listening.handles,
                                  consented_dids=lambda: self.listening_dids()))
        if "mastodon" in names and s.mastodon_url and s.mastodon_token:
            made += MastodonStreams(s.mastodon_url, s.mastodon_token, cursors, handles=self.listening.handles)
        if self.plugins is not None and self.plugins.has("listeners"):
            for found in self.plugins.each("listeners", settings=s):
                made += [x for x in (found or []) if getattr(x, "name", "") in names
                         or f"plugin:{getattr(x, 'name', '')}" in names]
        return made + self.extra_sources

    def linked_posts(self, customer_id: int, platform: str, recent: list[dict]) -> int:
        """Hand a linked account's recent posts (the metrics collector reads
        them) to listening; kept only for customers who consented to listening."""
        heard = 0
        for item in recent:
            # The platform's own name and id: the same post heard by a mention too is kept once.
            post = Post(platform, item["id"], item.get("url", ""), plain_text(item["text"]), item["at"],
                        customer_id=customer_id)
            heard += self.listening.hear(post) is not None
        return heard

    def listening_dids(self) -> list[str]:
        """Bluesky DIDs of customers who linked a Bluesky account and consented to listening."""
        from sqlalchemy import and_, select

        from ..schema import linked_accounts
        from .heard import listening_consented
        with self.listening.engine.connect() as conn:
            return sorted(d for d in conn.scalars(select(linked_accounts.c.account_id).where(and_(
                linked_accounts.c.platform == "bluesky", linked_accounts.c.status == "linked",
                listening_consented(linked_accounts.c.customer_id)))) if d)
