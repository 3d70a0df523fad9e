"""Publish: what subscribers and operators read, and writing it.

Pure rendering of Atom and RSS (``emit``, feedgen), JSON Feed (``jsonfeed``), the
index and article pages from Jinja2 templates (``pages``, ``templating``,
``templates/``), the status page and ``status.json`` (``statuspage``, ``status``),
OPML (``opml``), which copy of a story is shown (``clusters``); what the feeds
show, read from the store (``views``, ``archive``); and the I/O of publishing:
rendering in worker processes (``render``), the gate and the writing of every
output (``publisher``), atomic writes (``files``) and WebSub pings (``websub``).

May import: everything below it (base, stories, parse, sources, config, store);
never ``feeds.run`` or ``feeds.cli``.
"""
