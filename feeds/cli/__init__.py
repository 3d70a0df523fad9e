"""The command line: the ``feeds`` group and its error policy (``main``, ``common``),
one module per family of commands (``run``, ``status``, ``sources``, ``topics``),
the text of ``feeds status`` (``statustext``), ``feeds init`` (``scaffold``) and
``feeds serve`` (``serve``).

The top of the house: it may import everything; nothing imports it.
"""
