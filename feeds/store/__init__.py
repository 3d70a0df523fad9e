"""Store: the state database.

SQLite (``state.Store``): sources' HTTP validators and health, entries, first-seen
times, items, clusters, near-duplicate bands, per-day fetch counts, and the generation
counter of published changes. One transaction per source, batched. ``protocol``
holds the interface the rest of the package uses (``StoreProtocol``); ``connection``
and ``schema`` the machinery; one module per domain holds its queries. Every public
method raises ``feeds.errors.StateError``, never an sqlite3 error, so nothing
outside this package imports sqlite3.

May import: the base modules, ``feeds.config``, ``feeds.stories``, ``feeds.parse``
and ``feeds.sources``; never publishing, running or the command line.
"""
