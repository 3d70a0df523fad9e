"""Every config key: its table, type, default and meaning.

``config.py`` accepts exactly these keys, and ``docs/operations.md`` holds the
table ``reference_markdown()`` renders (a test keeps the two equal), so the
documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyDoc:
    name: str
    type: str
    default: str
    meaning: str


REFERENCE: dict[str, tuple[KeyDoc, ...]] = {
    "[site] in config/feeds.toml": (
        KeyDoc("title", "string", "required", "the site's name, used in every feed title"),
        KeyDoc("base_url", "http(s) URL", "required",
               "where the output folder is served; ids of feeds, self links and article links use it"),
        KeyDoc("description", "string", '""', "subtitle of the feeds and the index page"),
        KeyDoc("author", "string", "the title", "author of the feeds"),
        KeyDoc("language", "language tag", '"en"', "xml:lang and language of the outputs"),
        KeyDoc("output_dir", "path", '"public"', "where the outputs are written"),
        KeyDoc("state_path", "path", '"var/state.db"',
               "the SQLite state database; the run lock sits beside it"),
        KeyDoc("state_url", "PostgreSQL URL", "none",
               "keep the state in PostgreSQL instead (postgresql://user@host/database); "
               "the environment variable FEEDS_STATE_URL overrides it"),
        KeyDoc("max_entries", "integer > 0", "50", "entries in each published feed"),
        KeyDoc("retention_days", "integer > 0", "90",
               "days an entry is kept, counted from when it was first seen"),
        KeyDoc("hub", "http(s) URL", "none", "WebSub hub to advertise and ping when a feed changes"),
        KeyDoc("public_query_params", "list of strings", "[]",
               "query parameters of source URLs whose values public outputs and logs show even if "
               "their names look secret"),
        KeyDoc("secret_query_params", "list of strings", "[]",
               "query parameters whose values public outputs and logs hide, besides those whose "
               'names look secret (key, token, sig, password...); "*" hides every value not in '
               "public_query_params"),
        KeyDoc("public_status", "boolean", "false",
               "publish the status page as status.html in the output folder and link it from the "
               "index; otherwise it is written beside the state database, for operators only"),
    ),
    "[fetch] in config/feeds.toml": (
        KeyDoc("concurrency", "integer > 0", "8", "requests at once"),
        KeyDoc("per_host", "integer > 0", "2", "requests at once to any one host"),
        KeyDoc("connect_timeout", "seconds > 0", "10", "time to connect"),
        KeyDoc("read_timeout", "seconds > 0", "30", "longest silence while reading a response"),
        KeyDoc("total_timeout", "seconds > 0", "60", "wall-clock cap on one fetch"),
        KeyDoc("max_bytes", "integer > 0", "10485760", "largest response, after decompression"),
        KeyDoc("max_redirects", "integer >= 0", "5", "redirects followed before giving up"),
        KeyDoc("user_agent", "string", '"feeds/0.1 (+https://github.com/feeds/feeds)"',
               "User-Agent header"),
        KeyDoc("default_interval", "duration", '"30m"', "poll interval when a server gives no hint"),
        KeyDoc("min_interval", "duration", '"10m"', "shortest interval a server's hint can set"),
        KeyDoc("max_interval", "duration", '"1d"', "longest interval a server's hint can set"),
        KeyDoc("max_backoff", "duration", '"2d"', "longest wait after repeated failures"),
        KeyDoc("alert_after", "integer > 0", "2",
               "consecutive failures before the health feed reports a source"),
        KeyDoc("parse_workers", "integer >= 0", "2",
               "processes that parse and normalise documents (0: the main process); "
               "used when a run has many documents"),
        KeyDoc("max_items", "integer > 0", "500",
               "items read from one document, the first in document order; the run warns "
               "how many it dropped"),
        KeyDoc("max_title_chars", "integer > 0", "500",
               "longest entry title, in characters; a longer one is cut at a word and ends in …"),
        KeyDoc("max_text_chars", "integer > 0", "200000",
               "longest summary and longest content of an entry, in characters of HTML"),
        KeyDoc("max_categories", "integer > 0", "50", "categories kept per entry"),
        KeyDoc("allow_private", "boolean", "true",
               "false: connect only to public addresses (no loopback, private, link-local, "
               "multicast or reserved ones, checked after DNS and on every redirect)"),
    ),
    "[dedupe] in config/feeds.toml": (
        KeyDoc("enabled", "boolean", "true", "cluster copies of one story from several sources"),
        KeyDoc("window", "duration", '"3d"', "copies published further apart are other stories"),
        KeyDoc("title_threshold", "number 0..1", "0.6",
               "word overlap of two titles that makes them one story"),
        KeyDoc("text_threshold", "number 0..1", "0.5",
               "overlap of title and summary together that makes them one story"),
        KeyDoc("tracking_params", "list of strings", "[]",
               "query parameters, besides utm_* and the usual ones, that do not change a story"),
    ),
    "[topics.<id>] in config/feeds.toml": (
        KeyDoc("title", "string", "the id", "the topic's name"),
        KeyDoc("description", "string", '""', "the topic feed's subtitle"),
        KeyDoc("max_entries", "integer > 0", "[site] max_entries", "entries in this topic's feeds"),
        KeyDoc("index", "boolean", "true", "show the topic on the index page"),
        KeyDoc("include", "list of topic ids", "[]", "entries of these topics belong here too"),
        KeyDoc("threshold", "number > 0", "1",
               "evidence an entry needs: a term counts 3 in the title, 2 in the categories or the "
               "first 300 characters of the summary, 1 further down (2 if found twice); 1 is any match"),
        KeyDoc("exclude", "list of strings", "[]", "any of these keeps an entry out of the topic"),
        KeyDoc("exclude_regex", "list of regular expressions (RE2 syntax)", "[]",
               "any match keeps an entry out of the topic"),
        KeyDoc("keywords", "list of strings", "[]",
               "the topic's first rule (the keys of [[topics.<id>.rules]] may stand here)"),
        KeyDoc("weak", "list of strings", "[]",
               "first rule: ambiguous keywords that count only when another term of the topic is found"),
        KeyDoc("all", "list of strings", "[]", "first rule: every one of these must match"),
        KeyDoc("require", "list of strings", "[]", "first rule: one of these must match too"),
        KeyDoc("regex", "list of regular expressions (RE2 syntax)", "[]", "first rule: any one matches"),
        KeyDoc("categories", "list of strings", "[]", "first rule: any of the entry's feed categories"),
        KeyDoc("sources", "list of source ids or tag:NAME", "[]",
               "first rule: only entries from these sources"),
        KeyDoc("authors", "list of strings", "[]", "first rule: only entries by these authors"),
        KeyDoc("languages", "list of language tags", "[]",
               "first rule: only entries in these languages (en matches en-GB; und: language "
               "unknown); declared by the feed, else guessed from the text"),
        KeyDoc("rules", "array of tables", "[]",
               "more rules, whose evidence adds up; each takes keywords, weak, all, "
               "require, regex, categories, sources, authors, languages, exclude, exclude_regex "
               "(its exclusions apply to that rule only)"),
    ),
    "[[sources]] in config/sources.toml": (
        KeyDoc("id", "string", "required", "unique; lower-case letters, digits, '-' and '_'"),
        KeyDoc("title", "string", "the feed's own title, else the id",
               "the source's name in the outputs; when given, it always wins"),
        KeyDoc("url", "http(s) URL", "one of url or path",
               "an RSS or Atom feed; user:password@ in it is HTTP basic auth, like username/password"),
        KeyDoc("path", "path", "one of url or path", "a folder of local articles"),
        KeyDoc("topics", "list of topic ids", "[]", "topics every entry of the source belongs to"),
        KeyDoc("enabled", "boolean", "true", "false keeps the source without fetching it"),
        KeyDoc("tags", "list of strings", "[]", "names topic rules can select with sources = [\"tag:NAME\"]"),
        KeyDoc("eligible", "list of topic ids", "[]",
               "topics whose rules then apply only to entries of the sources that list them"),
        KeyDoc("interval", "duration", "none", "poll this often, whatever the server hints"),
        KeyDoc("priority", "integer", "0",
               "of several copies of one story, the highest priority's is published"),
        KeyDoc("timeout", "seconds > 0", "[fetch] total_timeout", "wall-clock cap on one fetch"),
        KeyDoc("max_bytes", "integer > 0", "[fetch] max_bytes", "largest response"),
        KeyDoc("max_items", "integer > 0", "[fetch] max_items", "items read from one document"),
        KeyDoc("user_agent", "string", "[fetch] user_agent", "User-Agent header"),
        KeyDoc("headers", "table of strings", "{}",
               "extra request headers, sent (like the credentials) only to the origin of url"),
        KeyDoc("username", "string", "none", "HTTP basic auth user"),
        KeyDoc("password", "string", "none", "HTTP basic auth password"),
        KeyDoc("password_env", "string", "none",
               "name of an environment variable holding the password"),
    ),
}


def keys(table: str) -> set[str]:
    """The key names of the table whose heading starts with ``table``."""
    for heading, docs in REFERENCE.items():
        if heading.startswith(table + " "):
            return {d.name for d in docs}
    raise KeyError(table)


RULE_KEYS = frozenset({"keywords", "weak", "all", "require", "regex", "categories", "sources", "authors",
                       "languages", "exclude", "exclude_regex"})


def reference_markdown() -> str:
    out: list[str] = []
    for heading, docs in REFERENCE.items():
        out += [f"### `{heading.split(' in ')[0]}` in `{heading.split(' in ')[1]}`", "",
                "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        out += [f"| `{d.name}` | {d.type} | {d.default} | {d.meaning} |" for d in docs]
        out.append("")
    return "\n".join(out)
