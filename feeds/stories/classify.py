r"""Topics for an entry, with the reason, and the nearest miss for the others. Pure.

Terms match whole words and phrases in the title, the summary text and the
feed categories:
- a phrase's words may be joined by spaces or hyphens ("open source" is
  "open-source");
- a lower-case term matches in any case, with its plural and simple
  inflections ("policy" matches "policies", "ban" matches "banned");
- a term's capitals count: ``AI`` matches only "AI" (not "Ai Weiwei" or "ai"),
  ``Intel`` matches "Intel" and "INTEL" but not "threat intel".
Regular expressions are searched as written, case-insensitively unless they
say otherwise (``(?-i:...)``), by RE2: a stranger's headline is the text, and
RE2 takes time linear in it whatever the pattern, where ``re`` backtracks
(``(a+)+$`` on forty "a" and a "!" never ends). RE2 has no lookaround or
backreferences, and its ``\b``, ``\w``, ``\d`` and ``\s`` are ASCII.

A source can put every entry in a topic (its ``topics``), or make a topic
``eligible``: once any source does, that topic's rules apply only to entries
from those sources.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from math import ceil
from typing import Protocol

from feeds.stories.language import effective_language, language_matches
from feeds.types import Entry, Rule, Source, Topic, TopicMatch


def _variants(word: str) -> list[str]:
    """A lower-case word and its plural and simple inflections."""
    forms = [word, word + "s", word + "es", word + "ed", word + "ing"]
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms += [word[:-1] + "ies", word[:-1] + "ied"]
    if word.endswith("e"):
        forms += [word + "d", word[:-1] + "ing"]
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms += [word + word[-1] + s for s in ("ed", "ing")]  # ban -> banned
    return sorted(set(forms), key=len, reverse=True)


def term_pattern(term: str) -> re.Pattern[str]:
    words = [w for w in re.split(r"[\s\-]+", term.strip()) if w]
    if not words:
        raise ValueError("empty term")
    letters = [c for c in term if c.isalpha()]
    acronym = bool(letters) and all(c.isupper() for c in letters)
    capitals = any(c.isupper() for c in term)
    parts = [re.escape(w) for w in words[:-1]]
    last = words[-1]
    if acronym:
        parts.append(re.escape(last) + (r"s?" if last[-1:].isalpha() else ""))
        body = r"[\s\-]+".join(parts)
        return re.compile(r"(?<![\w])" + body + r"(?![\w])")
    if capitals:
        # The first letter's capital must be there; the rest may be in any case,
        # so that "Intel" also matches an all-capitals headline.
        first = words[0]
        head = re.escape(first[0]) + (f"(?i:{re.escape(first[1:])})" if len(first) > 1 else "")
        rest = [f"(?i:{re.escape(w)})" for w in words[1:]]
        body = r"[\s\-]+".join([head, *rest])
        return re.compile(r"(?<![\w])" + body + r"(?:s|es)?(?![\w])")
    if last.isalpha() and len(last) > 2:
        parts.append("(?:" + "|".join(re.escape(v) for v in _variants(last.lower())) + ")")
    else:
        parts.append(re.escape(last))
    return re.compile(r"(?<![\w])" + r"[\s\-]+".join(parts) + r"(?![\w])", re.IGNORECASE)


class Found(Protocol):
    def end(self) -> int: ...


class Searcher(Protocol):
    def search(self, text: str, /) -> Found | None: ...


class UnsupportedRegex(ValueError):
    """A valid Python expression that RE2 cannot run; ``str()`` says what and why."""


# \b or \B beside a non-ASCII character: RE2's word boundary is ASCII, so
# r"\bÖkonomie\b" would silently never match a word that Python calls one.
_ASCII_BOUNDARY = re.compile(r"(?<!\\)(?:\\\\)*(?:[^\x00-\x7f]\\[bB]|\\[bB][^\x00-\x7f])")


class _Re2:
    """A compiled RE2 expression; ``search`` is its own, so a search costs no extra call."""

    __slots__ = ("pattern", "search")

    def __init__(self, expression: str) -> None:
        import re2  # lazily: most configs have no regex rules

        options = re2.Options()
        options.case_sensitive = False
        options.never_capture = True  # only whether it matches counts
        options.log_errors = False  # the error reaches the user as a config error instead
        try:
            compiled = re2.compile(expression, options)
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
                exc.args[0], bytes) else str(exc)
            raise UnsupportedRegex(
                f"RE2, which runs topic regexes in linear time, cannot run it ({reason}); "
                "it has no lookaround, backreferences or verbose mode, and writes the end "
                "of text as \\z") from None
        self.pattern = expression
        self.search: Callable[[str], Found | None] = compiled.search


def regex_pattern(expression: str) -> Searcher:
    """The expression compiled for RE2, case-insensitive. Raises ``re.error`` (with
    ``.pos``) for an invalid expression, ``UnsupportedRegex`` for a valid one that
    RE2 cannot run or would run differently."""
    re.compile(expression)  # Python's errors give the position of the fault
    if _ASCII_BOUNDARY.search(expression):
        raise UnsupportedRegex(
            "\\b and \\B beside a non-ASCII letter never see a word boundary there "
            "(RE2's word boundary is ASCII); write the word as a keyword, or use "
            "(?:^|[^\\pL\\pN_]) and (?:[^\\pL\\pN_]|$) instead")
    return _Re2(expression)


Terms = tuple[tuple[str, Searcher, str | None], ...]  # (term, pattern, _needle)


def _terms(items: Iterable[str]) -> Terms:
    return tuple((t, term_pattern(t), _needle(t)) for t in items)


def _regexes(items: Iterable[str]) -> Terms:
    return tuple((r, regex_pattern(r), None) for r in items)


# The only characters that a case-insensitive ASCII letter matches besides its
# own two cases (İ ı ſ K); mapping them first keeps ``_fold`` a necessary
# condition for a match, whatever the text.
_SPECIAL_CASES = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")


def _fold(text: str) -> str:
    if not text.isascii() and _SPECIAL.search(text):  # rare, and translate is slow
        text = text.translate(_SPECIAL_CASES)
    return text.lower()


def _needle(term: str) -> str | None:
    """A lower-case ASCII string that every match of ``term_pattern(term)`` contains
    (in ``_fold``'s form), or None. Checking it with ``in`` rules most terms out at
    a fraction of the cost of a regex search."""
    words = [w for w in re.split(r"[\s\-]+", term.strip()) if w]
    if not words:
        return None
    last = words[-1]
    if any(c.isupper() for c in term) or not (last.isalpha() and len(last) > 2):
        tail = last.lower()
    else:
        forms = _variants(last.lower())
        tail = min(forms, key=len)
        while not all(f.startswith(tail) for f in forms):
            tail = tail[:-1]
    best = max([w.lower() for w in words[:-1]] + [tail], key=len)
    return best if best.isascii() and best else None


def _hits(terms: Terms, text: str, folded: str) -> tuple[str, ...]:
    """The terms found in ``text``; ``folded`` is ``_fold(text)``."""
    return tuple(name for name, pattern, needle in terms
                 if (needle is None or needle in folded) and pattern.search(text))


# What a term found in each place of an entry adds to its topic's score.
TITLE, CATEGORY, LEAD, BODY = 3, 2, 2, 1
LEAD_CHARS = 300  # the summary's opening, which says what the entry is about
ENGINE = "evidence-1"  # in the fingerprint: a change of how rules are read reclassifies


@dataclass(frozen=True)
class Evidence:
    """A term of a matching rule found in an entry: where, and what it adds."""

    term: str
    where: str  # title, categories, lead, body, body twice; or conditions
    weight: int  # what it adds to the score: 0 for a required word or a weak term alone
    rule: str
    note: str = ""  # "required", "weak", "weak, alone"

    def __str__(self) -> str:
        said = f"{self.term} ({self.where}"
        if self.note in ("required", "weak, alone"):
            return f"{said}, {self.note})"
        return f"{said} +{self.weight}{', weak' if self.note == 'weak' else ''})"


@dataclass(frozen=True)
class _Rule:
    rule: Rule
    keywords: Terms
    weak: Terms
    all: Terms
    require: Terms
    regex: Terms
    exclude: Terms
    exclude_regex: Terms


@dataclass(frozen=True)
class _Topic:
    topic: Topic
    rules: tuple[_Rule, ...]
    exclude: Terms
    exclude_regex: Terms


@dataclass(frozen=True)
class Explanation:
    """Why an entry is in a topic, or the nearest it came to being in it."""

    topic: str
    member: bool
    how: str  # the evidence and the threshold, or what was missing
    evidence: tuple[Evidence, ...] = ()
    score: float = 0.0
    threshold: float = 0.0


@dataclass(frozen=True)
class _Facts:
    text: str
    folded: str
    places: tuple[tuple[str, str, str, int], ...]  # (where, text, folded, weight), best first
    body: str  # the summary past its lead
    body_folded: str
    categories: frozenset[str]
    authors: frozenset[str]
    language: str | None
    source_ids: frozenset[str]
    tags: frozenset[str]


def _facts(entry: Entry, sources: Sequence[Source], detect: bool = True) -> _Facts:
    text = "\n".join([entry.title, entry.summary_text, *entry.categories])
    summary = entry.summary_text
    cut = len(summary)
    if cut > LEAD_CHARS:
        cut = summary.rfind(" ", 0, LEAD_CHARS) + 1 or LEAD_CHARS
    lead, body = summary[:cut], summary[cut:]
    cats = "\n".join(entry.categories)
    if detect:
        language = effective_language(entry.language, entry.title + "\n" + summary)
    else:
        language = (entry.language or "").strip().casefold() or None
    return _Facts(
        text=text,
        folded=_fold(text),
        places=(("title", entry.title, _fold(entry.title), TITLE),
                ("categories", cats, _fold(cats), CATEGORY),
                ("lead", lead, _fold(lead), LEAD)),
        body=body,
        body_folded=_fold(body),
        categories=frozenset(c.casefold() for c in entry.categories),
        authors=frozenset(a.name.casefold() for a in entry.authors),
        language=language,
        source_ids=frozenset(s.id for s in sources),
        tags=frozenset(t for s in sources for t in s.tags),
    )


def _locate(pattern: Searcher, needle: str | None, f: _Facts) -> tuple[str, int] | None:
    """Where a term is best found in the entry, and its weight there."""
    if needle is not None and needle not in f.folded:
        return None
    for where, text, folded, weight in f.places:
        if text and (needle is None or needle in folded) and pattern.search(text):
            return where, weight
    if f.body and (needle is None or needle in f.body_folded):
        found = pattern.search(f.body)
        if found is not None:
            again = pattern.search(f.body[found.end():])
            return ("body twice", 2 * BODY) if again is not None else ("body", BODY)
    return None


def _evidence(terms: Terms, f: _Facts, rule: str, note: str = "") -> list[Evidence]:
    out: list[Evidence] = []
    folded = f.folded
    for name, pattern, needle in terms:
        if needle is not None and needle not in folded:
            continue  # most terms end here, for the cost of a substring search
        at = _locate(pattern, needle, f)
        if at is not None:
            out.append(Evidence(name, at[0], 0 if note == "required" else at[1], rule, note))
    return out


def _check(r: _Rule, f: _Facts) -> tuple[bool, str, int, list[Evidence]]:
    """(matched, what was missing, how close: the number of parts satisfied, evidence)."""
    rule = r.rule
    name = rule.name or "rule"
    found: list[Evidence] = []
    missing: list[str] = []
    done = 0
    if r.keywords or r.regex or rule.categories or r.weak:
        hits = _evidence(r.keywords, f, name) + _evidence(r.regex, f, name)
        hits += [Evidence(c, "categories", CATEGORY, name) for c in rule.categories
                 if c.casefold() in f.categories]
        hits += _evidence(r.weak, f, name, "weak")
        if hits:
            found += hits
            done += 1
        else:
            missing.append("none of its keywords")
    if r.all:
        hits = _evidence(r.all, f, name)
        if len(hits) == len(r.all):
            found += hits
            done += 1
        else:
            have = {e.term for e in hits}
            missing.append("all of " + ", ".join(t for t, _p, _n in r.all if t not in have))
    if r.require:
        hits = _evidence(r.require, f, name, "required")
        if hits:
            found += hits
            done += 1
        else:
            missing.append("one of its required words (" + ", ".join(t for t, _p, _n in r.require[:5])
                           + ("..." if len(r.require) > 5 else "") + ")")
    if rule.sources:
        if any(s in f.source_ids or (s.startswith("tag:") and s[4:] in f.tags) for s in rule.sources):
            done += 1
        else:
            missing.append("a source among " + ", ".join(rule.sources))
    if rule.authors:
        if any(a.casefold() in f.authors for a in rule.authors):
            done += 1
        else:
            missing.append("an author among " + ", ".join(rule.authors))
    if rule.languages:
        if any(language_matches(f.language, lang) for lang in rule.languages):
            done += 1
        else:
            missing.append("a language among " + ", ".join(rule.languages)
                           + f" (the entry's: {f.language or 'unknown'})")
    if missing:
        return False, "; ".join(missing), done, found
    excluded = _hits(r.exclude, f.text, f.folded) + _hits(r.exclude_regex, f.text, f.folded)
    if excluded:
        return False, "excluded by " + ", ".join(excluded), done, found
    if not any(e.note != "required" for e in found):
        # A rule of sources, authors or languages alone: its conditions are the evidence.
        found.append(Evidence("its conditions", "conditions", -1, name))
    return True, "", done, found


def _tally(found: list[Evidence], threshold: float) -> tuple[float, tuple[Evidence, ...]]:
    """The score of the evidence of the matching rules: each term once, at its best
    place; a weak term only beside another term that counts."""
    best: dict[str, Evidence] = {}
    for e in found:
        if e.weight < 0:  # a rule without terms decides alone
            e = Evidence(e.term, e.where, max(1, ceil(threshold)), e.rule, "its conditions hold")
        key = e.term.casefold()
        held = best.get(key)
        if held is None or e.weight > held.weight or (held.note == "weak" and e.note != "weak"):
            best[key] = e
    out = list(best.values())
    if not any(e.weight > 0 and e.note != "weak" for e in out) \
            and sum(1 for e in out if e.note == "weak") < 2:
        out = [Evidence(e.term, e.where, 0, e.rule, "weak, alone") if e.note == "weak" else e
               for e in out]
    return float(sum(e.weight for e in out)), tuple(out)


def _number(x: float) -> str:
    return f"{x:g}"


def _describe(score: float, threshold: float, evidence: Sequence[Evidence]) -> str:
    rules = ", ".join(dict.fromkeys(e.rule for e in evidence))
    terms = ", ".join(str(e) for e in evidence)
    return f"score {_number(score)} of {_number(threshold)} needed: {terms} [{rules}]"


class Classifier:
    def __init__(self, topics: Iterable[Topic], sources: Iterable[Source] = ()) -> None:
        topics = tuple(topics)
        sources = tuple(sources)
        self._topics = tuple(
            _Topic(
                t,
                tuple(_Rule(r, _terms(r.keywords), _terms(r.weak), _terms(r.all), _terms(r.require),
                            _regexes(r.regex), _terms(r.exclude), _regexes(r.exclude_regex))
                      for r in t.rules),
                _terms(t.exclude),
                _regexes(t.exclude_regex),
            )
            for t in topics
        )
        self._detect = any(r.languages for t in topics for r in t.rules)
        self._eligible: dict[str, frozenset[str]] = {}
        for s in sources:
            for t in s.eligible:
                self._eligible[t] = self._eligible.get(t, frozenset()) | {s.id}
        self._includes = {t.id: t.include for t in topics}
        self._named = {name for t in topics for r in t.rules for name in r.sources}
        self.fingerprint = hashlib.sha256(json.dumps(
            [ENGINE, [asdict(t) for t in topics],
             [[s.id, s.topics, s.tags, s.eligible] for s in sorted(sources, key=lambda s: s.id)]],
            sort_keys=True, default=str).encode()).hexdigest()[:16]

    def carrying_matters(self, source: Source) -> bool:
        """Can ``source`` carrying an entry change the entry's topics? Not when it has
        no default or eligible topics and no rule names it or one of its tags: then
        classify() gives the same with it among the carriers as without it."""
        return bool(source.topics or source.eligible or source.id in self._named
                    or any(f"tag:{t}" in self._named for t in source.tags))

    def _direct(self, entry: Entry, sources: Sequence[Source]
                ) -> tuple[dict[str, TopicMatch], dict[str, Explanation]]:
        """Topics the entry is in by its sources and rules, and for every topic the
        explanation: the evidence weighed, or the nearest miss."""
        f = _facts(entry, sources, self._detect)
        defaults = {t for s in sources for t in s.topics}
        matched: dict[str, TopicMatch] = {}
        why: dict[str, Explanation] = {}
        for ct in self._topics:
            topic_id = ct.topic.id
            threshold = ct.topic.threshold
            if topic_id in defaults:
                names = ", ".join(s.id for s in sources if topic_id in s.topics)
                matched[topic_id] = TopicMatch(topic_id, "source default", (names,))
                why[topic_id] = Explanation(topic_id, True, f"source default: {names}")
                continue
            eligible = self._eligible.get(topic_id)
            if eligible is not None and not (eligible & f.source_ids):
                only = ", ".join(sorted(eligible))
                why[topic_id] = Explanation(topic_id, False, f"its rules apply only to sources {only}")
                continue
            best: tuple[int, str] | None = None
            found: list[Evidence] = []
            for r in ct.rules:
                ok, detail, done, evidence = _check(r, f)
                if ok:
                    found += evidence
                elif best is None or done > best[0]:
                    best = (done, f"{r.rule.name or 'rule'}: {detail}")
            if not found:
                why[topic_id] = Explanation(topic_id, False, best[1] if best else "it has no rules")
                continue
            score, counted = _tally(found, threshold)
            excluded = _hits(ct.exclude, f.text, f.folded) + _hits(ct.exclude_regex, f.text, f.folded)
            if excluded:
                why[topic_id] = Explanation(topic_id, False, "excluded by " + ", ".join(excluded),
                                            counted, score, threshold)
                continue
            how = _describe(score, threshold, counted)
            if score < threshold:
                why[topic_id] = Explanation(topic_id, False, how, counted, score, threshold)
                continue
            rules = " + ".join(dict.fromkeys(e.rule for e in counted))
            terms = tuple(e.term for e in counted if e.where != "conditions" and e.note != "weak, alone")
            matched[topic_id] = TopicMatch(topic_id, rules, terms)
            why[topic_id] = Explanation(topic_id, True, how, counted, score, threshold)
        return matched, why

    def classify(self, entry: Entry, sources: Sequence[Source]) -> tuple[TopicMatch, ...]:
        """The entry's topics; ``sources`` are the sources that carry it."""
        matched, _why = self._direct(entry, sources)
        return tuple(self._with_includes(matched).values())

    def _with_includes(self, matched: dict[str, TopicMatch]) -> dict[str, TopicMatch]:
        out = dict(matched)
        changed = True
        while changed:  # includes may chain; config validation rejects cycles
            changed = False
            for topic_id, included in self._includes.items():
                if topic_id in out:
                    continue
                via = [t for t in included if t in out]
                if via:
                    out[topic_id] = TopicMatch(topic_id, "included topic", tuple(via))
                    changed = True
        order = {ct.topic.id: n for n, ct in enumerate(self._topics)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], 0)))

    def explain(self, entry: Entry, sources: Sequence[Source]) -> list[Explanation]:
        """For every topic: the evidence that put the entry in it (each term, where it was
        found, what it added, and the threshold), or the nearest miss."""
        matched, why = self._direct(entry, sources)
        full = self._with_includes(matched)
        out: list[Explanation] = []
        for ct in self._topics:
            t = ct.topic.id
            if t in full and t not in matched:
                out.append(Explanation(t, True, "included topic: " + ", ".join(full[t].terms)))
            else:
                out.append(why.get(t, Explanation(t, False, "no rule matched")))
        return out


@dataclass(frozen=True)
class TopicStats:
    """How a topic's rules fare on a set of entries, for ``feeds check``."""

    topic: str
    rule_hits: tuple[tuple[str, int], ...]  # each rule's name and how many entries it matched
    excluded: int  # matched by a rule but kept out by the topic's exclusions
    members: frozenset[int]  # indexes of the entries in the topic


def rule_stats(classifier: Classifier, samples: Sequence[tuple[Entry, Sequence[Source]]]
               ) -> list[TopicStats]:
    out: list[TopicStats] = []
    facts = [_facts(e, s, classifier._detect) for e, s in samples]
    memberships = [{m.topic for m in classifier.classify(e, s)} for e, s in samples]
    for ct in classifier._topics:
        hits: list[tuple[str, int]] = []
        matched_any: set[int] = set()
        for r in ct.rules:
            count = 0
            for n, f in enumerate(facts):
                if _check(r, f)[0]:
                    count += 1
                    matched_any.add(n)
            hits.append((r.rule.name or "rule", count))
        excluded = sum(1 for n in matched_any
                       if _hits(ct.exclude + ct.exclude_regex, facts[n].text, facts[n].folded))
        members = frozenset(n for n, topics in enumerate(memberships) if ct.topic.id in topics)
        out.append(TopicStats(ct.topic.id, tuple(hits), excluded, members))
    return out


def lint(classifier: Classifier, samples: Sequence[tuple[Entry, Sequence[Source]]]) -> list[str]:
    """Rules that look wrong on the entries we hold."""
    if not samples:
        return []
    stats = rule_stats(classifier, samples)
    problems: list[str] = []
    total = len(samples)
    for s in stats:
        for name, count in s.rule_hits:
            if count == 0:
                problems.append(f"topic '{s.topic}' {name} matches none of the {total} stored entries")
        matched = max((c for _n, c in s.rule_hits), default=0)
        if matched and s.excluded and not s.members:
            problems.append(f"topic '{s.topic}': its exclusions remove every entry its rules match "
                            f"({s.excluded})")
    for i, a in enumerate(stats):
        for b in stats[i + 1:]:
            if a.members and a.members == b.members:
                problems.append(f"topics '{a.topic}' and '{b.topic}' hold exactly the same "
                                f"{len(a.members)} stored entries")
    return problems
