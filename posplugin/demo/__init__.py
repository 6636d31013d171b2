"""``posplugin demo``: a whole store and head office on an embedded default,
with made-up customers and simulated traffic."""
