"""The store's HTTP face: the app factory, its routes (api, stream, pages,
plugin routes under /hooks), CORS and Prometheus metrics. Built on the
plumbing both services share (posplugin.web)."""
