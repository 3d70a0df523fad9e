"""Store: the state database.

SQLite (``state.Store``): sources' HTTP validators and health, entries, first-seen
times, items, clusters, near-duplicate bands, per-day fetch counts, and the generation
counter of published changes. One transaction per source, batched. PostgreSQL
(``postgres.PgStore``) is the same store over psycopg (``pgsql`` translates the
statements); ``factory.open_store`` opens whichever the config names. ``protocol``
holds the interface the rest of the package uses (``StoreProtocol``); ``connection``
and ``schema`` the machinery; one module per domain holds its queries. Every public
method raises ``feeds.errors.StateError``, never a driver's error, so nothing
outside this package imports sqlite3 or psycopg.

May import: the base modules, ``feeds.config``, ``feeds.stories``, ``feeds.parse``
and ``feeds.sources``; never publishing, running or the command line.
"""
