"""The HTTP plumbing both services stand on: the front door (an asyncio server
that owns the sockets and serves live streams), endpoints declared with their
OpenAPI description, JSON bodies and the error shape, schemas, rate limits,
page serving. Each service's routes live in its own web room
(posplugin.store.web, posplugin.hq.web)."""
