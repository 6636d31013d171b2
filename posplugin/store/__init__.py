"""The store: its domain, free of Flask (identify and prompts, visits, queues
and their baselines, the in-process bus, tokens, and its side of head
office: sync and the outcome outbox), and its HTTP face in ``web/``."""
