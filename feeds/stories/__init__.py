"""Stories: what an entry is and which stories are one.

Pure (no I/O, no clock): normalising an entry as a source gave it into the form we
publish (``normalize``: plain titles, sanitised HTML through nh3 in ``sanitize``,
absolute canonical URLs, XML-safe text), identity and duplicate detection
(``dedupe``, ``similar``), topic rules (``classify``), page names of local articles
(``slugs``) and what a feed says about itself (``sourceinfo``).

May import: the base modules of ``feeds`` (types, errors, xmlchars, redact) and
third-party libraries. Nothing of the other sub-packages.
"""
