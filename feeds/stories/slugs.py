"""Page names for local articles, and which addresses a local article may claim.

Pure. A local article's page is ``articles/<source id>/<slug>.html`` under the
output folder and under ``base_url``; the slug comes from the file's path inside
the source folder, never from anything the file says, so a file cannot choose
where its page is written.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

SLUG_LIMIT = 80
# Enough hex digits that two names of one folder share them by chance about once
# in 2**16 folders of a thousand files; a pair made to share them costs the
# shorter form only, and falls to the full digest.
_SHORT_HASH = 8
_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def slugify(text: str, limit: int = SLUG_LIMIT) -> str:
    """Lower-case ASCII letters and digits joined by hyphens; "article" if none are left.

    Other scripts are transliterated first, so that "Москва" gives "moskva"
    rather than nothing. ASCII text gives what it gave before transliteration
    was added, so existing links keep their address.
    """
    if text.isascii():
        ascii_text = text
    else:
        from anyascii import anyascii  # lazily: it costs 30 ms to import, and most names are ASCII

        ascii_text = anyascii(text)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "article"


def _stem(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    return relpath.rsplit(".", 1)[0] if "." in name else relpath


def _digest(relpath: str) -> str:
    return hashlib.sha256(relpath.encode("utf-8", "surrogatepass")).hexdigest()


def slug_forms(relpath: str) -> tuple[str, str, str]:
    """The three names a file's page may have: plain, with a short hash of the
    path, and with the full hash. Each is a function of the path alone."""
    plain = slugify(_stem(relpath))
    digest = _digest(relpath)
    short = f"{plain[: SLUG_LIMIT - _SHORT_HASH - 1].rstrip('-')}-{digest[:_SHORT_HASH]}"
    full = f"{plain[: SLUG_LIMIT - len(digest) - 1].rstrip('-')}-{digest}"
    return plain, short, full


def article_slugs(relpaths: Iterable[str]) -> dict[str, str]:
    """A distinct slug for each path of one source folder, stable from run to run.

    A path keeps its plain slug unless it is not ASCII (transliteration is a
    guess, and two scripts may read alike) or another path of the folder would
    share that slug: then the slug carries a hash of the path. Names that share
    nothing therefore keep the address they always had.
    """
    paths = sorted(set(relpaths))
    forms = {p: slug_forms(p) for p in paths}
    level = {p: 0 if _stem(p).isascii() else 1 for p in paths}
    # Each round moves at least one path to a longer form, and the full digest of
    # distinct paths never repeats, so this ends within 2 * len(paths) rounds.
    while True:
        chosen = {p: forms[p][level[p]] for p in paths}
        counts = Counter(chosen.values())
        clashing = [p for p in paths if counts[chosen[p]] > 1 and level[p] < 2]
        if not clashing:
            return chosen
        for p in clashing:
            level[p] += 1


def page_slug(link: str | None, base_url: str, source_id: str, relpath: str) -> str | None:
    """The slug of the page whose address ``link`` is, if it is one of the names the
    file at ``relpath`` may have; None otherwise (the article named its own address,
    or the link was stored by an older version). The link only chooses among names
    made from the path: it cannot name a page of its own.
    """
    if not link:
        return None
    prefix = f"{base_url}articles/{source_id}/"
    for slug in slug_forms(relpath):
        if link == f"{prefix}{slug}.html":
            return slug
    return None


def is_safe_slug(slug: str) -> bool:
    return len(slug) <= SLUG_LIMIT and _SLUG_RE.fullmatch(slug) is not None


def on_site(link: str, base_url: str) -> bool:
    """Whether ``link`` names an address under ``base_url``, once percent-escapes
    and dot segments are undone as a web server would undo them. Pages there are
    ours to name: a local article may not claim one as its own address."""
    try:
        target, base = urlsplit(link), urlsplit(base_url)
        target_port, base_port = target.port, base.port
    except ValueError:
        return False
    default = {"http": 80, "https": 443}
    if (target.scheme.lower(), (target.hostname or "").lower(),
            target_port or default.get(target.scheme.lower())) != (
            base.scheme.lower(), (base.hostname or "").lower(),
            base_port or default.get(base.scheme.lower())):
        return False
    path = posixpath.normpath("/" + re.sub("/+", "/", unquote(target.path)).lstrip("/"))
    root = base.path if base.path.endswith("/") else base.path + "/"
    return (path.rstrip("/") + "/").startswith(root)
