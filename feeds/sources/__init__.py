"""Sources: getting documents, and deciding when to ask again.

HTTP with httpx over aiohttp (``fetch``, ``transport``), bounded decoding of bodies
(``decode``), which addresses may be reached and credentials out of URLs
(``netguard``), feed discovery on a page (``discover``), and the pure deciders of
when a source is due (``polling``) and how an outcome changes its health
(``health``). Local folders are read by ``fetch.read_folder``.

May import: the base modules, ``feeds.stories`` and ``feeds.parse``.
"""
