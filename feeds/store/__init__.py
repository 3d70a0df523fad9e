"""Store: the state database.

SQLite (``state``): sources' HTTP validators and health, entries, first-seen times,
items, clusters, near-duplicate bands, per-day fetch counts, and the generation
counter of published changes. One transaction per source, batched.

May import: the base modules, ``feeds.config``, ``feeds.stories``, ``feeds.parse``
and ``feeds.sources``; never publishing, running or the command line.
"""
