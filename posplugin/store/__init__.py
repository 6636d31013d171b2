"""The store's domain, free of Flask: identify and prompts, visits, queues and
their baselines, the in-process bus, tokens, and the store's side of head
office (sync and the outcome outbox)."""
