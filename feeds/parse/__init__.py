"""Parse: a document's bytes into the entries its source gave.

Pure: feedparser's adapter (``adapter``), the lxml fast path that gives the same
result (``fastparse``), JSON Feed input (``jsonparse``), the dates feedparser
misreads (``dates``), and local articles, plain text, Markdown or HTML
(``articles``).

May import: the base modules and ``feeds.stories`` (sanitising, slugs).
"""
