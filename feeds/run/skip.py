"""Items a source sends again unchanged cost next to nothing: each item as parsed is
hashed with everything normalising and classifying it depends on, and an item whose
hash the store already holds for its source (``Store.raw_items``) is not normalised,
sanitised or classified again; it is stored as still seen.

The hash is keyed by the code of the modules that make an entry from a parsed item
(read once a process), the versions of the libraries they call, the settings and
topic rules (``run_key``), and per document by the source and what the document says
of itself that normalising reads (``document_key``). Any change to those gives every
item a new hash, so the next run normalises everything once, as before.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path

from feeds import __version__
from feeds.types import Config, EntryData, FeedData, Source

# What makes an Entry from an EntryData: parsing itself is not skipped, only what follows.
_CODE = ("stories", "run/ingest.py", "run/skip.py", "types.py", "xmlchars.py", "store/codec.py")
_LIBRARIES = ("nh3", "feedparser", "lxml", "anyascii")


@cache
def code_digest() -> str:
    """A hash of the package's code that turns parsed items into stored entries, and
    of the versions of the libraries it calls. Read once a process."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(__version__.encode())
    for name in _CODE:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(root)).encode() + b"\0")
            try:
                h.update(f.read_bytes())
            except OSError:  # a file we cannot read: a key no later run repeats
                h.update(repr(id(f)).encode())
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=none".encode())
    return h.hexdigest()


def run_key(config: Config) -> str:
    """The part of every item's hash that the run shares: the code, the settings that
    normalising and identity read (not paths: a project moved keeps its hashes), the
    topic rules."""
    s = config.settings
    text = f"{code_digest()}\n{s.base_url!r}\n{s.fetch!r}\n{s.dedupe!r}\n{config.topics!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def document_key(key: str, source: Source, document_url: str | None, feed: FeedData) -> bytes:
    """The run's key with what normalising and classifying this document's items read
    besides each item: of the source, its id, its own title (not one its feed lends
    it), its topics, tags and item cap; of the document, its address and what it says
    of itself."""
    own = (source.id, source.title if source.title_given else None, source.topics, source.tags,
           source.eligible, source.max_items)
    text = f"{key}\n{own!r}\n{document_url!r}\n{feed.link!r}\n{feed.authors!r}\n{feed.language!r}"
    return hashlib.sha256(text.encode()).digest()


def item_hash(doc_key: bytes, data: EntryData) -> str:
    """An item as parsed, under the document's key."""
    return hashlib.blake2b(repr(data).encode("utf-8", "surrogatepass"), key=doc_key[:32],
                           digest_size=16).hexdigest()
