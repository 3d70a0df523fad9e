"""The data that flows through a run. Every type here is a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Rule:
    """One way into a topic. Everything given must hold:

    ``keywords`` (any one), ``regex`` (any one) or ``categories`` (any one of the
    entry's feed categories) — whichever of the three are given, one must match;
    ``all``: every one of these; ``require``: at least one of these;
    ``sources``: the entry comes from one of these source ids or ``tag:`` tags;
    ``authors``, ``languages``: one of these; and none of ``exclude`` or
    ``exclude_regex`` (which keep the entry out of this rule only).
    ``weak``: ambiguous terms that count as ``keywords`` only in company, when
    another term of the topic is found too.
    """

    keywords: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_regex: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()
    name: str = ""  # where it is written, for explanations: "rule 2 (config/feeds.toml:40)"


@dataclass(frozen=True)
class Topic:
    """A topic feed and the rules that route entries into it.

    An entry is in the topic when the evidence of the rules that match (each term
    weighed by where it was found) reaches ``threshold`` and none of the topic's
    ``exclude``/``exclude_regex`` match, or a source puts it there; or when it is
    in one of the ``include``d topics. The default threshold, 1, is any match.
    """

    id: str
    title: str
    description: str = ""
    rules: tuple[Rule, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_regex: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # other topics whose entries belong here too
    max_entries: int | None = None  # default: [site] max_entries
    index: bool = True  # shown on the index page
    threshold: float = 1.0  # evidence needed (stories/classify.py weighs it)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str | None = None
    path: Path | None = None  # absolute, resolved against the project root
    topics: tuple[str, ...] = ()
    enabled: bool = True
    tags: tuple[str, ...] = ()  # for topic rules: sources = ["tag:policy"]
    eligible: tuple[str, ...] = ()  # topics whose rules apply to this source's entries only
    # Per-source fetch options; None means the [fetch] default.
    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    auth: tuple[str, str] | None = None  # basic auth: user, password
    timeout: float | None = None  # wall-clock cap for this source
    max_bytes: int | None = None
    interval: timedelta | None = None  # poll this often, whatever the server hints
    priority: int = 0  # of several copies of a story, the highest priority's is published
    max_items: int | None = None  # items kept from one document; None: [fetch] max_items
    # The credentials the config wrote inside url (url itself is kept without them):
    # only an operator's own backup (`feeds sources export --with-secrets`) shows them.
    url_auth: tuple[str, str] | None = None
    # False when the config gave no title (``title`` is then the id): the feed's
    # own title may stand in for it where sources are shown (``feeds.stories.sourceinfo``).
    title_given: bool = True

    @property
    def is_local(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class FetchSettings:
    concurrency: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "feeds/0.1 (+https://github.com/feeds/feeds)"
    per_host: int = 2  # requests at once to one host
    default_interval: timedelta = timedelta(minutes=30)
    min_interval: timedelta = timedelta(minutes=10)
    max_interval: timedelta = timedelta(days=1)
    max_backoff: timedelta = timedelta(days=2)
    alert_after: int = 2  # consecutive failures before the health feed says so
    parse_workers: int = 2  # processes that parse and normalise documents; 0: in the main one
    # What one document may bring: items beyond max_items (in document order) are
    # dropped, longer fields cut. A stranger's feed must not cost unbounded work and
    # space in every later run.
    max_items: int = 500
    max_title_chars: int = 500
    max_text_chars: int = 200_000  # a summary's or a content's HTML, each
    max_categories: int = 50
    # False: connect only to public addresses (checked after DNS, on every redirect),
    # for deployments that poll URLs strangers submit.
    allow_private: bool = True


@dataclass(frozen=True)
class DedupeSettings:
    enabled: bool = True  # cluster near-duplicate stories across sources
    window: timedelta = timedelta(days=3)  # copies published further apart are other stories
    title_threshold: float = 0.6
    text_threshold: float = 0.5
    tracking_params: tuple[str, ...] = ()  # more query parameters that do not change a story


@dataclass(frozen=True)
class Settings:
    title: str
    base_url: str  # always ends with "/"
    description: str = ""
    author: str = ""
    language: str = "en"
    output_dir: Path = Path("public")
    state_path: Path = Path("var/state.db")
    # The state on PostgreSQL ("postgresql://..."); None: SQLite at state_path.
    # FEEDS_STATE_URL overrides [site] state_url (feeds.config).
    state_url: str | None = None
    max_entries: int = 50
    retention_days: int = 90
    fetch: FetchSettings = field(default_factory=FetchSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    hub: str | None = None  # WebSub hub pinged when a feed changes
    # Query parameters whose values public outputs show / hide (feeds.redact).
    public_query_params: tuple[str, ...] = ()
    secret_query_params: tuple[str, ...] = ()
    public_status: bool = False  # status.html in the output folder, linked from the index


@dataclass(frozen=True)
class Config:
    root: Path
    settings: Settings
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]

    def topic_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)


# --- retrieval -------------------------------------------------------------


@dataclass(frozen=True)
class CacheHints:
    """How long the server says its answer stays fresh."""

    max_age: float | None = None  # seconds, from Cache-Control or Expires


@dataclass(frozen=True)
class Document:
    """A feed document as the server sent it."""

    source_id: str
    url: str  # the final URL, after redirects
    body: bytes
    headers: dict[str, str]  # lower-cased names
    etag: str | None = None
    last_modified: str | None = None
    hints: CacheHints = field(default_factory=CacheHints)
    permanent_redirect: str | None = None  # where every hop of a 301/308 chain led


@dataclass(frozen=True)
class NotModified:
    """The server said 304, or sent the very bytes we parsed last time."""

    source_id: str
    reason: str  # "304" or "same body"
    hints: CacheHints = field(default_factory=CacheHints)
    permanent_redirect: str | None = None


@dataclass(frozen=True)
class LocalFile:
    relpath: str  # relative to the source folder, with "/" separators
    body: bytes
    mtime: datetime


@dataclass(frozen=True)
class LocalFolder:
    source_id: str
    files: tuple[LocalFile, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpCache:
    """What we remember of a source's last good response."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


# --- entries -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str = "application/octet-stream"
    length: int = 0


@dataclass(frozen=True)
class TextBlock:
    """A text construct as the source gave it, with the base for its relative URLs."""

    value: str
    is_html: bool
    base: str | None = None


@dataclass(frozen=True)
class EntryData:
    """One item as a source gave it, before normalisation."""

    guid: str | None
    link: str | None
    title: TextBlock | None
    summary: TextBlock | None
    content: TextBlock | None
    published: datetime | None  # aware, if known
    updated: datetime | None
    authors: tuple[Person, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None
    base: str | None = None  # base URL for the entry's own links
    date_from_mtime: bool = False  # local article without a date
    notes: tuple[str, ...] = ()  # what reading it gave up (a local article's Markdown kept as text)


@dataclass(frozen=True)
class FeedData:
    """What a parsed document said about itself, plus its entries."""

    title: str | None
    link: str | None
    language: str | None
    authors: tuple[Person, ...]
    entries: tuple[EntryData, ...]
    warnings: tuple[str, ...] = ()
    ttl: int | None = None  # RSS <ttl>: minutes the feed may be cached
    items_total: int | None = None  # items in the document, when only some were read
    unreadable_dates: int = 0  # entry dates given but not read (published as first seen)
    feed_url: str | None = None  # where the feed says it lives (JSON Feed feed_url)
    icon: str | None = None  # JSON Feed icon (or favicon)


@dataclass(frozen=True)
class TopicMatch:
    """Why an entry is in a topic: the rule that matched and the words it matched."""

    topic: str
    rule: str  # "source default" or "keyword", "keyword+require"
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One entry as we hold and publish it."""

    source_id: str
    item_key: str  # identity within the source: "guid:...", "url:...", "hash1:...", "file:..."
    url_key: str | None  # canonical link, for deduplication across sources
    link: str | None
    title: str
    summary_html: str
    content_html: str
    summary_text: str
    published: datetime
    updated: datetime
    authors: tuple[Person, ...]
    categories: tuple[str, ...]
    enclosures: tuple[Enclosure, ...]
    language: str | None
    content_hash: str
    topics: tuple[TopicMatch, ...] = ()
    date_guessed: bool = False  # the source gave no date: ``published`` is first seen or mtime
    # Derived keys for deduplication, worked out with the parsing (in a worker process
    # when there is one) rather than in the storing; not part of the stored entry.
    story_key: str = ""
    bands: tuple[int, ...] = ()

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(m.topic for m in self.topics)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as it is in the state database, with what only the store knows."""

    id: str  # the published id, a URI that never changes
    entry: Entry
    first_seen: datetime
    source_title: str


# --- reporting --------------------------------------------------------------

# What one run did with a source: fetched with news, answered 304 or unchanged,
# failed, gone (HTTP 410, never fetched again unless forced), or not due.
OutcomeStatus = Literal["ok", "not-modified", "failed", "gone", "skipped"]


@dataclass(frozen=True)
class SourceOutcome:
    source_id: str
    status: OutcomeStatus
    message: str = ""
    new_entries: int = 0
    updated_entries: int = 0
    warnings: tuple[str, ...] = ()
    seconds: float | None = None  # how long the fetch took
    unreachable: bool = False  # failed before any HTTP answer: DNS or connection refused/unreachable
    candidates: int = 0  # near-duplicate candidates its new entries met
    judged: int = 0  # of them, pairs the judge read (the others joined a matched cluster)


@dataclass(frozen=True)
class RunReport:
    started: datetime
    finished: datetime
    outcomes: tuple[SourceOutcome, ...]
    files_written: tuple[str, ...]
    files_unchanged: int
    entries_published: int
    purged: int = 0
    warnings: tuple[str, ...] = ()  # about the run as a whole, e.g. a hub that did not answer

    @property
    def failed(self) -> tuple[SourceOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)

    @property
    def candidates(self) -> int:
        return sum(o.candidates for o in self.outcomes)

    @property
    def judged(self) -> int:
        return sum(o.judged for o in self.outcomes)


# --- source health ------------------------------------------------------------

# A source's health as stored between runs.
HealthState = Literal["new", "ok", "failing", "gone"]
# As ``feeds status`` and status.json show it: a healthy source that went quiet is
# stale; one the config switches off is disabled.
SourceState = Literal["new", "ok", "failing", "gone", "stale", "disabled"]
# As the status page shows it: failing twice or more in a row is backing off, and
# stale reads as quiet.
PageState = Literal["backing off", "failing", "gone", "quiet", "new", "ok", "disabled"]
# What the health feed announces.
HealthEventKind = Literal["failing", "recovered", "gone", "moved", "stale", "active"]


@dataclass(frozen=True)
class SourceHealth:
    """What we know of a source between runs (one row of the ``sources`` table)."""

    source_id: str
    state: HealthState = "new"
    config_url: str | None = None  # the URL in config when this was recorded
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    http_status: int | None = None
    failures: int = 0  # consecutive
    last_error: str | None = None
    last_warning: str | None = None  # a success with trouble, e.g. a partly broken feed
    next_due: datetime | None = None
    redirect_target: str | None = None  # a permanent redirect seen on the last fetches
    redirect_seen: int = 0  # how many fetches in a row showed it
    redirect_adopted: bool = False  # fetch the target instead of the configured URL
    entries_seen: int = 0  # items in the last document
    last_new_entry: datetime | None = None
    alerted: bool = False  # the health feed said it is failing
    stale: bool = False  # the health feed said it went quiet
    unreadable_dates: int = 0  # entry dates in the last document that could not be read
    failing_since: datetime | None = None  # the first failure of the current run of failures

    @property
    def fetch_url(self) -> str | None:
        return self.redirect_target if self.redirect_adopted else None


@dataclass(frozen=True)
class HealthEvent:
    """A change in a source's health, published in the health feed."""

    source_id: str
    at: datetime
    kind: HealthEventKind
    message: str


@dataclass(frozen=True)
class SourceDay:
    """A source's fetches on one UTC day (a row of the ``source_days`` table)."""

    day: date
    fetches: int = 0
    failures: int = 0
    new_entries: int = 0
    latency_count: int = 0  # answered fetches, whose time is in the sum and the maximum
    latency_ms_sum: int = 0
    latency_ms_max: int = 0

    @property
    def latency_ms_mean(self) -> float | None:
        return self.latency_ms_sum / self.latency_count if self.latency_count else None
