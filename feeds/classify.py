"""Topics for an entry: its source's default topics plus every topic whose rules match.

Matching is over the title, the summary text and the categories, by whole
words and phrases:
- case-insensitive, except a term written in capitals (``AI``, ``EU``, ``FCC``),
  which matches only in capitals, so ``AI`` does not match "Ai Weiwei";
- a phrase's words may be joined by spaces or hyphens ("open source" = "open-source");
- a lower-case term also matches its plural (``chip`` matches "chips").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from feeds.types import Entry, Topic, TopicMatch


def _is_acronym(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(term) <= 8


def term_pattern(term: str) -> re.Pattern[str]:
    words = re.split(r"[\s\-]+", term.strip())
    parts = [re.escape(w) for w in words if w]
    body = r"[\s\-]+".join(parts)
    acronym = _is_acronym(term)
    if words and words[-1][-1:].isalpha():
        body += r"(?:s|es)?" if not acronym else r"s?"
    flags = 0 if acronym else re.IGNORECASE
    return re.compile(r"(?<![\w])" + body + r"(?![\w])", flags)


@dataclass(frozen=True)
class _CompiledTopic:
    topic: Topic
    keywords: tuple[tuple[str, re.Pattern[str]], ...]
    require: tuple[tuple[str, re.Pattern[str]], ...]
    exclude: tuple[tuple[str, re.Pattern[str]], ...]


def _compile(terms: Iterable[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((t, term_pattern(t)) for t in terms)


def _matches(rules: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> tuple[str, ...]:
    return tuple(term for term, pattern in rules if pattern.search(text))


class Classifier:
    def __init__(self, topics: Iterable[Topic]) -> None:
        self._topics = tuple(
            _CompiledTopic(t, _compile(t.keywords), _compile(t.require), _compile(t.exclude))
            for t in topics
        )
        self.fingerprint = hashlib.sha256(json.dumps(
            [[t.id, t.keywords, t.require, t.exclude] for t in topics], sort_keys=True
        ).encode()).hexdigest()[:16]

    def classify(self, entry: Entry, source_topics: Iterable[str]) -> tuple[TopicMatch, ...]:
        text = "\n".join([entry.title, entry.summary_text, *entry.categories])
        defaults = set(source_topics)
        matches: list[TopicMatch] = []
        for ct in self._topics:
            topic_id = ct.topic.id
            excluded = _matches(ct.exclude, text)
            if topic_id in defaults:
                matches.append(TopicMatch(topic_id, "source default"))
                continue
            if excluded or not ct.keywords:
                continue
            hits = _matches(ct.keywords, text)
            if not hits:
                continue
            if ct.require:
                required = _matches(ct.require, text)
                if not required:
                    continue
                matches.append(TopicMatch(topic_id, "keywords+require", hits + required))
            else:
                matches.append(TopicMatch(topic_id, "keywords", hits))
        return tuple(matches)
