"""The command line: ``feeds`` and its commands (``commands``, click), the text
of ``feeds status`` (``statustext``), ``feeds init`` (``scaffold``) and ``feeds
serve`` (``serve``).

The top of the house: it may import everything; nothing imports it.
"""
