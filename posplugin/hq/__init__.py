"""Head office: tier-list versions and the signed feed, store tokens, outcome
reports, and its own HTTP service."""
