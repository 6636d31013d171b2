"""Listening (Groundswell customer service): posts customers write about a
store, heard where head office may listen, classified, routed to the store
they are about, and handed to that store's floor within a minute.

``posts`` is the one shape every source delivers; ``classify`` and
``lexicon`` say what a post is about and in what tone; ``placement`` keeps
where each store is; ``route`` decides the store and lane; ``heard`` keeps
what was heard (and drops everything else at once); ``sources/`` reads the
platforms; ``runner`` keeps the long-lived ones connected in one process;
``mentions`` tells whether a post names the chain; ``outcomes`` counts the
experiment's ``posts_7``. docs/listening.md says what
each source is confirmed or assumed to do.
"""
