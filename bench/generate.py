"""Generate a deterministic feed corpus for the benchmark.

``python bench/generate.py OUT_DIR [--sources N] [--entries M] [--seed S]`` writes
``OUT_DIR/feeds/NNNNN.{rss,atom,rdf}`` and ``OUT_DIR/manifest.json``.

The same (sources, entries, seed, GENERATOR_VERSION) always gives byte-identical
files. The corpus is a mix of RSS 2.0, Atom 1.0 and RSS 1.0 (RDF) feeds with
realistic entries: HTML summaries with absolute and relative links, images and
tracking parameters; about 15% of entries carry a full body of 5-20 KB;
categories, authors and enclosures; and about 15% of entry slots are copies of
a story syndicated across 2-4 sources (same canonical link, sometimes with
``utm_*`` parameters, each source with its own guid).

``--profile templated`` (bench/templated.py) writes headlines and summaries from
news templates with slot fillers instead of random words: the same formats,
shares and copies, but text whose stories look alike, as real feeds' do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# A sibling module, also when this file is loaded by its path (tests/test_fastparse.py).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
from templated import templated_story_text

# Bump when the output changes, so cached corpora are regenerated.
GENERATOR_VERSION = 1

DEFAULT_SOURCES = 1000
DEFAULT_ENTRIES = 50
DEFAULT_SEED = 20250601
PROFILES = ("default", "templated")

# Every date in the corpus is before this instant (and none in the future for any run).
EPOCH = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)

SYNDICATED_SHARE = 0.15  # share of entry slots that are copies of a multi-source story
FULL_BODY_SHARE = 0.15  # share of entries with a 5-20 KB body
ENCLOSURE_SHARE = 0.10
FORMAT_WEIGHTS = (("rss", 0.55), ("atom", 0.35), ("rdf", 0.10))

EXTENSIONS = {"rss": "rss", "atom": "atom", "rdf": "rdf"}

_WORD_TEXT = """
the of and to in a is that for on with as by at from it be this are was an or have has not will
which their more its been they about than other after new also into when over year people first
two would can most some could said says government company companies report users data online
internet network platform platforms service services market rules law court judge ruling policy
policies privacy security researchers research model models system systems software hardware
open source cloud devices device phone phones app apps state states federal agency agencies
commission regulators regulator digital access broadband spectrum wireless carriers fiber rural
connectivity consumers consumer public content moderation speech social media election elections
misinformation encryption surveillance police warrant lawmakers bill bills congress senate
parliament european union competition antitrust merger acquisition deal billion million
investment startup startups chip chips semiconductor wafer foundry factory fab export controls
supply chain nvidia processor processors memory training inference compute datacenter
datacenters energy power grid climate emissions standards interoperability protocol protocols
browser browsers web search engine engines advertising tracking cookies consent transparency
accountability audit audits risk risks safety testing evaluation benchmark benchmarks release
released launch launched announced announcement update updates version feature features
developers users customers workers labor union strike jobs automation robots robotics vehicles
autonomous drones satellites space launch orbit telescope quantum computing cryptography
vulnerability vulnerabilities patch patches attack attacks ransomware hackers breach breaches
password passwords authentication identity verification age children teens schools students
copyright licence license licensing creators artists music news publishers journalism archive
archives library libraries books video streaming games gaming console subscription price prices
fees tax taxes tariff tariffs trade sanctions china japan korea taiwan india brazil africa
europe germany france britain canada australia mexico city cities local
"""
WORDS = _WORD_TEXT.split()

KEYWORDS = [
    "AI", "artificial intelligence", "machine learning", "language model", "LLM", "OpenAI",
    "chip", "semiconductor", "TSMC", "wafer", "FCC", "net neutrality", "Digital Markets Act",
    "broadband", "regulator", "privacy", "encryption", "antitrust", "open source",
]

CATEGORIES = [
    "AI", "Policy", "Privacy", "Security", "Chips", "Telecom", "Broadband", "Courts",
    "Competition", "Europe", "Asia", "Startups", "Open Source", "Science", "Space",
    "Energy", "Labor", "Media", "Copyright", "Elections",
]

FIRST_NAMES = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Tim", "Barbara", "Ken", "Radia",
               "Vint", "Hedy", "Dennis", "Frances", "Edsger", "Shafi", "Whitfield", "Joan", "Yuki",
               "Amara", "Chen", "Priya", "Kwame", "Sofia", "Mateo", "Ingrid", "Omar"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Berners-Lee", "Liskov",
              "Thompson", "Perlman", "Cerf", "Lamarr", "Ritchie", "Allen", "Dijkstra", "Goldwasser",
              "Diffie", "Clarke", "Tanaka", "Okafor", "Wei", "Raman", "Mensah", "Rossi", "Garcia",
              "Berg", "Haddad"]

ENCLOSURE_TYPES = [("audio/mpeg", "mp3"), ("video/mp4", "mp4"), ("image/jpeg", "jpg")]


@dataclass
class Story:
    """One story; a syndicated one appears in several sources."""

    key: int
    title: str
    link: str  # canonical
    published: datetime
    summary: str  # HTML
    body: str | None  # HTML, 5-20 KB, or None
    categories: list[str]
    author: str
    enclosure: tuple[str, str, int] | None  # url, type, length
    syndicated: bool = False


@dataclass
class SourceSpec:
    index: int
    fmt: str
    title: str
    site: str  # https://siteNNNNN.example
    stories: list[Story] = field(default_factory=list)

    @property
    def relpath(self) -> str:
        return f"feeds/{self.index:05d}.{EXTENSIONS[self.fmt]}"


class Writer:
    """Makes the text of stories and feeds from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def words(self, n: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=n))

    def sentence(self, lo: int = 8, hi: int = 22) -> str:
        rng = self.rng
        parts = self.rng.choices(WORDS, k=rng.randint(lo, hi))
        if rng.random() < 0.35:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(KEYWORDS))
        text = " ".join(parts)
        return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "?", "!"])

    def title(self) -> str:
        rng = self.rng
        parts = rng.choices(WORDS, k=rng.randint(5, 11))
        if rng.random() < 0.5:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(KEYWORDS))
        if rng.random() < 0.1:
            parts.append("& more")
        text = " ".join(parts)
        return text[0].upper() + text[1:]

    def inline_html(self, site: str, n_sentences: int) -> str:
        """Sentences with some inline markup and links (absolute, relative, tracked)."""
        rng = self.rng
        out: list[str] = []
        for _ in range(n_sentences):
            s = self.sentence()
            r = rng.random()
            if r < 0.15:
                w = rng.choice(WORDS)
                s += f' <a href="/topics/{w}">{w}</a>'
            elif r < 0.30:
                s += (f' <a href="{site}/{EPOCH.year}/{rng.randint(1, 99999)}'
                      f'?utm_source=feed&amp;utm_medium=rss">{self.words(3)}</a>')
            elif r < 0.40:
                s += f" <strong>{self.words(2)}</strong> <em>{self.words(2)}</em>"
            elif r < 0.45:
                s += f" <code>{rng.choice(WORDS)}()</code>"
            out.append(s)
        return " ".join(out)

    def summary(self, site: str) -> str:
        rng = self.rng
        paras = [f"<p>{self.inline_html(site, rng.randint(2, 5))}</p>" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.25:
            paras.insert(0, f'<p><img src="/img/{rng.randint(1, 10**6)}.jpg" alt="{self.words(3)}" '
                            f'width="640" height="360"></p>')
        if rng.random() < 0.03:
            paras.append("<script>trackView()</script>")
        return "".join(paras)

    def body(self, site: str) -> str:
        rng = self.rng
        target = rng.randint(5 * 1024, 20 * 1024)
        parts: list[str] = []
        size = 0
        while size < target:
            r = rng.random()
            if r < 0.08:
                chunk = f"<h2>{self.title()}</h2>"
            elif r < 0.14:
                items = "".join(f"<li>{self.sentence(4, 12)}</li>" for _ in range(rng.randint(2, 6)))
                chunk = f"<ul>{items}</ul>"
            elif r < 0.18:
                chunk = f"<blockquote><p>{self.sentence()}</p></blockquote>"
            elif r < 0.21:
                chunk = (f'<figure><img src="{site}/media/{rng.randint(1, 10**6)}.png" '
                         f'alt="{self.words(4)}"><figcaption>{self.sentence(4, 10)}</figcaption></figure>')
            elif r < 0.22:
                chunk = ('<iframe src="https://video.example/embed/'
                         f'{rng.randint(1, 10**6)}" width="560" height="315"></iframe>')
            elif r < 0.225:
                chunk = '<p style="color:red" onclick="steal()">Sponsored</p><script>ads()</script>'
            else:
                chunk = f"<p>{self.inline_html(site, rng.randint(3, 8))}</p>"
            parts.append(chunk)
            size += len(chunk)
        return "\n".join(parts)

    def author(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def story(self, key: int, site: str, published: datetime) -> Story:
        rng = self.rng
        title = self.title()
        slug = "-".join(title.lower().split()[:6]).replace("&", "and")
        link = f"{site}/{published:%Y/%m}/{slug}-{key}"
        enclosure = None
        if rng.random() < ENCLOSURE_SHARE:
            mime, ext = rng.choice(ENCLOSURE_TYPES)
            enclosure = (f"{site}/media/{key}.{ext}", mime, rng.randint(10**5, 5 * 10**7))
        return Story(
            key=key,
            title=title,
            link=link,
            published=published,
            summary=self.summary(site),
            body=self.body(site) if rng.random() < FULL_BODY_SHARE else None,
            categories=rng.sample(CATEGORIES, rng.randint(0, 4)),
            author=self.author(),
            enclosure=enclosure,
        )


class TemplatedWriter(Writer):
    """Stories whose headline and summary come from one news template (bench/templated.py)."""

    def _linkify(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            w = rng.choice(WORDS)
            return f' <a href="/topics/{w}">{w}</a>'
        if r < 0.12:
            return f" <strong>{self.words(2)}</strong>"
        return ""

    def story(self, key: int, site: str, published: datetime) -> Story:
        rng = self.rng
        title, summary = templated_story_text(rng, published, self._linkify)
        slug = "-".join(title.lower().split()[:6]).replace("&", "and").replace("'", "")
        link = f"{site}/{published:%Y/%m}/{slug}-{key}"
        enclosure = None
        if rng.random() < ENCLOSURE_SHARE:
            mime, ext = rng.choice(ENCLOSURE_TYPES)
            enclosure = (f"{site}/media/{key}.{ext}", mime, rng.randint(10**5, 5 * 10**7))
        return Story(key=key, title=title, link=link, published=published, summary=summary,
                     body=self.body(site) if rng.random() < FULL_BODY_SHARE else None,
                     categories=rng.sample(CATEGORIES, rng.randint(0, 4)), author=self.author(),
                     enclosure=enclosure)


def _rfc822(d: datetime) -> str:
    return format_datetime(d)


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Copy:
    """A story as one source carries it."""

    story: Story
    guid: str
    link: str
    published: datetime
    summary: str


def _copies(src: SourceSpec, rng: random.Random) -> list[Copy]:
    out: list[Copy] = []
    for st in src.stories:
        link = st.link
        published = st.published
        summary = st.summary
        if st.syndicated and not st.link.startswith(src.site):
            # A republished copy: tracking parameters, a later time, sometimes a shorter summary.
            if rng.random() < 0.5:
                link = f"{st.link}?utm_source=src{src.index}&utm_medium=rss&utm_campaign=syndication"
            published = st.published + timedelta(minutes=rng.randint(1, 600))
            if rng.random() < 0.5:
                summary = summary.split("</p>", 1)[0] + "</p>"
        guid = f"{src.site}/?p={st.key}"
        out.append(Copy(st, guid, link, published, summary))
    out.sort(key=lambda c: (c.published, c.story.key), reverse=True)
    return out


def render_rss(src: SourceSpec, copies: list[Copy]) -> str:
    items: list[str] = []
    for c in copies:
        st = c.story
        lines = [
            "<item>",
            f"<title>{escape(st.title)}</title>",
            f"<link>{escape(c.link)}</link>",
            f'<guid isPermaLink="false">{escape(c.guid)}</guid>',
            f"<pubDate>{_rfc822(c.published)}</pubDate>",
            f"<dc:creator>{escape(st.author)}</dc:creator>",
        ]
        lines += [f"<category>{escape(cat)}</category>" for cat in st.categories]
        lines.append(f"<description>{escape(c.summary)}</description>")
        if st.body is not None:
            lines.append(f"<content:encoded>{_cdata(st.body)}</content:encoded>")
        if st.enclosure is not None:
            url, mime, length = st.enclosure
            lines.append(f'<enclosure url={quoteattr(url)} length="{length}" type="{mime}"/>')
        if st.key % 7 == 0:
            lines.append(f"<comments>{escape(c.link)}#comments</comments>")
        lines.append("</item>")
        items.append("\n".join(lines))
    newest = copies[0].published if copies else EPOCH
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "<channel>\n"
        f"<title>{escape(src.title)}</title>\n"
        f"<link>{src.site}/</link>\n"
        f'<atom:link href="{src.site}/feed.rss" rel="self" type="application/rss+xml"/>\n'
        f"<description>News and analysis from {escape(src.title)}</description>\n"
        "<language>en-us</language>\n"
        f"<lastBuildDate>{_rfc822(newest)}</lastBuildDate>\n"
        "<generator>feeds-bench/1</generator>\n"
        "<ttl>30</ttl>\n"
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def render_atom(src: SourceSpec, copies: list[Copy]) -> str:
    entries: list[str] = []
    for c in copies:
        st = c.story
        lines = [
            "<entry>",
            f"<title>{escape(st.title)}</title>",
            f'<link rel="alternate" type="text/html" href={quoteattr(c.link)}/>',
            f"<id>{escape(c.guid)}</id>",
            f"<published>{_iso(c.published)}</published>",
            f"<updated>{_iso(c.published + timedelta(minutes=st.key % 90))}</updated>",
            f"<author><name>{escape(st.author)}</name></author>",
        ]
        lines += [f"<category term={quoteattr(cat)}/>" for cat in st.categories]
        lines.append(f'<summary type="html">{escape(c.summary)}</summary>')
        if st.body is not None:
            lines.append(f'<content type="html">{escape(st.body)}</content>')
        if st.enclosure is not None:
            url, mime, length = st.enclosure
            lines.append(f'<link rel="enclosure" href={quoteattr(url)} type="{mime}" length="{length}"/>')
        lines.append("</entry>")
        entries.append("\n".join(lines))
    newest = copies[0].published if copies else EPOCH
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en" xml:base="{src.site}/">\n'
        f"<title>{escape(src.title)}</title>\n"
        f"<subtitle>News and analysis from {escape(src.title)}</subtitle>\n"
        f'<link rel="alternate" type="text/html" href="{src.site}/"/>\n'
        f'<link rel="self" type="application/atom+xml" href="{src.site}/feed.atom"/>\n'
        f"<id>{src.site}/</id>\n"
        f"<updated>{_iso(newest)}</updated>\n"
        f"<author><name>{escape(src.title)} staff</name></author>\n"
        '<generator uri="https://feeds.example/bench" version="1">feeds-bench</generator>\n'
        + "\n".join(entries)
        + "\n</feed>\n"
    )


def render_rdf(src: SourceSpec, copies: list[Copy]) -> str:
    seq = "\n".join(f'<rdf:li rdf:resource={quoteattr(c.link)}/>' for c in copies)
    items: list[str] = []
    for c in copies:
        st = c.story
        lines = [
            f"<item rdf:about={quoteattr(c.link)}>",
            f"<title>{escape(st.title)}</title>",
            f"<link>{escape(c.link)}</link>",
            f"<dc:date>{_iso(c.published)}</dc:date>",
            f"<dc:creator>{escape(st.author)}</dc:creator>",
        ]
        lines += [f"<dc:subject>{escape(cat)}</dc:subject>" for cat in st.categories]
        lines.append(f"<description>{escape(c.summary)}</description>")
        if st.body is not None:
            lines.append(f"<content:encoded>{_cdata(st.body)}</content:encoded>")
        lines.append("</item>")
        items.append("\n".join(lines))
    newest = copies[0].published if copies else EPOCH
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
        f'<channel rdf:about="{src.site}/feed.rdf">\n'
        f"<title>{escape(src.title)}</title>\n"
        f"<link>{src.site}/</link>\n"
        f"<description>News and analysis from {escape(src.title)}</description>\n"
        f"<dc:date>{_iso(newest)}</dc:date>\n"
        f"<items><rdf:Seq>\n{seq}\n</rdf:Seq></items>\n"
        "</channel>\n"
        + "\n".join(items)
        + "\n</rdf:RDF>\n"
    )


RENDERERS = {"rss": render_rss, "atom": render_atom, "rdf": render_rdf}


def plan(n_sources: int, n_entries: int, seed: int, profile: str = "default") -> list[SourceSpec]:
    """Decide every source's format and stories (deterministic in ``seed``)."""
    rng = random.Random(seed)
    writer = TemplatedWriter(rng) if profile == "templated" else Writer(rng)
    formats = [f for f, _ in FORMAT_WEIGHTS]
    weights = [w for _, w in FORMAT_WEIGHTS]
    sources = [
        SourceSpec(index=i, fmt=rng.choices(formats, weights)[0],
                   title=f"The {writer.words(2).title()} {i}", site=f"https://site{i:05d}.example")
        for i in range(n_sources)
    ]
    key = 0

    def when() -> datetime:
        return EPOCH - timedelta(seconds=rng.randint(3600, 30 * 86400))

    # Syndicated stories first: each in 2-4 distinct sources, until ~15% of the slots are filled.
    target = round(SYNDICATED_SHARE * n_sources * n_entries) if n_sources >= 2 else 0
    cap = max(1, math.ceil(2 * SYNDICATED_SHARE * n_entries))  # at most this many per source
    room = {s.index: min(cap, n_entries) for s in sources}
    filled = 0
    while filled < target:
        open_ = [i for i, r in room.items() if r > 0]
        if len(open_) < 2:
            break
        k = min(rng.choice((2, 3, 4)), len(open_))
        chosen = rng.sample(open_, k)
        origin = sources[chosen[0]]
        story = writer.story(key, origin.site, when())
        story.syndicated = True
        key += 1
        for i in chosen:
            sources[i].stories.append(story)
            room[i] -= 1
            if room[i] == 0:
                del room[i]
        filled += k
    for src in sources:
        while len(src.stories) < n_entries:
            src.stories.append(writer.story(key, src.site, when()))
            key += 1
    return sources


def generate(out_dir: Path, n_sources: int = DEFAULT_SOURCES, n_entries: int = DEFAULT_ENTRIES,
             seed: int = DEFAULT_SEED, profile: str = "default") -> dict[str, Any]:
    """Write the corpus into ``out_dir`` (replacing it) and return the manifest."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    sources = plan(n_sources, n_entries, seed, profile)
    rng = random.Random(seed + 1)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        (tmp / "feeds").mkdir()
        files: list[dict[str, Any]] = []
        total_bytes = 0
        copies_total = 0
        stories: set[int] = set()
        syndicated: set[int] = set()
        for src in sources:
            copies = _copies(src, rng)
            data = RENDERERS[src.fmt](src, copies).encode("utf-8")
            path = tmp / src.relpath
            path.write_bytes(data)
            os.utime(path, (EPOCH.timestamp(), EPOCH.timestamp()))
            total_bytes += len(data)
            copies_total += len(copies)
            for c in copies:
                stories.add(c.story.key)
                if c.story.syndicated:
                    syndicated.add(c.story.key)
            files.append({"path": src.relpath, "format": src.fmt, "entries": len(copies),
                          "bytes": len(data)})
        syndicated_copies = sum(1 for s in sources for st in s.stories if st.syndicated)
        manifest: dict[str, Any] = {
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "profile": profile,
            "sources": n_sources,
            "entries_per_source": n_entries,
            "total_entries": copies_total,
            "distinct_stories": len(stories),
            "syndicated_stories": len(syndicated),
            "syndicated_copies": syndicated_copies,
            "total_bytes": total_bytes,
            "formats": {f: sum(1 for s in sources if s.fmt == f) for f, _ in FORMAT_WEIGHTS},
            "full_bodies": sum(1 for s in sources for st in s.stories if st.body is not None),
            "files": files,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for p in (tmp, tmp / "feeds"):
            p.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def load_or_generate(out_dir: Path, n_sources: int, n_entries: int, seed: int,
                     profile: str = "default") -> dict[str, Any]:
    """Reuse ``out_dir`` if it holds this exact corpus, else (re)generate it."""
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        try:
            manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        same = (manifest.get("generator_version") == GENERATOR_VERSION and manifest.get("seed") == seed
                and manifest.get("sources") == n_sources and manifest.get("entries_per_source") == n_entries
                and manifest.get("profile", "default") == profile)
        files = manifest.get("files")
        if same and isinstance(files, list) and all(
                isinstance(f, dict) and (out_dir / str(f["path"])).is_file() for f in files):
            return manifest
    return generate(out_dir, n_sources, n_entries, seed, profile)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--sources", type=int, default=DEFAULT_SOURCES)
    ap.add_argument("--entries", type=int, default=DEFAULT_ENTRIES)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--profile", choices=PROFILES, default="default",
                    help="default: random-word text; templated: headlines and summaries from news templates")
    args = ap.parse_args(argv)
    m = generate(args.out_dir, args.sources, args.entries, args.seed, args.profile)
    print(f"{m['sources']} feeds, {m['total_entries']} entries, {m['total_bytes']:,} bytes "
          f"in {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
