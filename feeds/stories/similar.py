"""Near-duplicate stories: sketches for candidate search, and the decision itself.

Pure. Finding candidates must not compare a new entry with every stored one,
so each entry gets a MinHash sketch of its word shingles (one-permutation
hashing: one hash per shingle, the minimum per bin), cut into bands; entries
sharing any band are candidates (locality-sensitive hashing). Candidates are
then judged on their text: title and summary overlap, with the numbers and
names of the two titles as evidence against a merge ("AI Weekly #41" is not
"AI Weekly #42"; "Intel cuts jobs" is not "AMD cuts jobs").

Sources reword headlines ("EU hits Google with €2 billion fine" over "Google
fined €2bn by EU"): when two summaries open with the same sentence, the judge
lets the titles differ in their verbs and nouns, but not in names or numbers.

The sketch's features are stored (as bands in the state database), so changing
them would split old entries from new copies of the same story: ``sketch`` keeps
its plain tokens. The judge reads text afresh each time, so it normalises more:
amounts ("$2bn", "US$2 billion", "2 billion dollars"), thousands separators,
percentages, possessives, names such as "AT&T" and "X", and a lighter-handed
stem ("fine", "fines", "fined").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise

BINS = 32  # a power of two: sketch() takes the bin with a mask
ROWS_PER_BAND = 2
BANDS = BINS // ROWS_PER_BAND
_EMPTY = (1 << 64) - 1

# Words that mark how a story is sold, not what it says.
_PREFIXES = re.compile(
    r"^(?:(?:exclusive|breaking|update[d]?|report|opinion|analysis|watch|video|live|explainer|"
    r"just in|scoop|factbox|insight|podcast|review)\s*[:|\-–—]\s*)+", re.I)
_STOP = frozenset((
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "for", "at", "by", "with", "from",
    "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those",
    "into", "over", "after", "before", "about", "says", "say", "said", "will", "would", "could",
    "can", "new", "how", "why", "what", "who", "when", "where", "than", "then", "not", "no", "yes",
    "has", "have", "had", "do", "does", "did", "up", "out", "off", "more", "most"
))
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W_]+(?:[&'’][^\W_]+)*")
# A capital letter standing alone is a name ("X outage"), not an article or initials
# (the A, I and U.S. of a headline); words() would drop it as too short.
_LETTER = re.compile(r"(?<![\w.&'’-])[B-HJ-Z](?![\w.&'’-])")
# An amount with its currency, as canonical_amounts() writes it: $20m and £20m differ.
_AMOUNT_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?: (?:usd|eur|gbp)\b)?")

# An amount as headlines write it: currency sign, number (with thousands separators or
# a decimal point), multiplier, currency word, percent. "m" and "b" multiply only after
# a currency sign ("$40m"); alone they may be metres or a model name.
_AMOUNT = re.compile(
    r"(?P<cur>US\$|\$|€|£)?(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<unit>thousand|million|billion|trillion|bn|mn|tn)\b|(?P<suffix>[kmb])\b)?"
    r"(?:\s(?P<curword>dollars?|euros?|pounds)\b)?"
    r"(?P<pct>\s?%|\s(?:per\s?cent|percent)\b)?",
    re.I)
_MULTIPLIER = {"thousand": 10**3, "k": 10**3, "million": 10**6, "mn": 10**6, "m": 10**6,
               "billion": 10**9, "bn": 10**9, "b": 10**9, "trillion": 10**12, "tn": 10**12}
_CURRENCY = {"us$": "usd", "$": "usd", "€": "eur", "£": "gbp", "dollar": "usd", "dollars": "usd",
             "euro": "eur", "euros": "eur", "pounds": "gbp"}
_AMOUNT_WORDS = frozenset({*_CURRENCY.values(), "percent"})


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def strip_marks(text: str) -> str:
    """``text`` without its combining characters (``unicodedata.combining``);
    everything else is kept as it is. They are never ASCII, so only the runs of
    other characters are looked at: news copy has few of them."""
    return _NON_ASCII.sub(lambda m: "".join(c for c in m.group() if not unicodedata.combining(c)), text)


def _fold(text: str) -> str:
    if text.isascii():
        return text.casefold()  # nothing to decompose: the common case, and the hot path of judge()
    text = unicodedata.normalize("NFKC", text).casefold()
    return strip_marks(unicodedata.normalize("NFKD", text))


def _amount(m: re.Match[str]) -> str:
    cur, num, unit, suffix, curword, pct = m.group("cur", "num", "unit", "suffix", "curword", "pct")
    if suffix and suffix.lower() in "mb" and not cur:
        return m.group(0)  # "5m", "3b": not money that we can tell
    value = Decimal(num.replace(",", ""))
    if unit or suffix:
        value *= _MULTIPLIER[(unit or suffix).lower()]
    text = str(int(value)) if value == value.to_integral_value() else str(value.normalize())
    currency = _CURRENCY.get((cur or curword or "").lower())
    return text + (f" {currency}" if currency else "") + (" percent" if pct else "")


def canonical_amounts(text: str) -> str:
    """Write every amount one way: "$2bn", "$2 billion", "US$2B" and "2 billion dollars"
    are all "2000000000 usd"; "15,000", "15K" and "15 thousand" are "15000"; "12%"
    and "12 per cent" are "12 percent". Copies of a story differ in these forms only."""
    if not any(c.isdigit() for c in text):
        return text
    return _AMOUNT.sub(_amount, text)


def clean_title(title: str) -> str:
    return _PREFIXES.sub("", title.strip())


_WORDS = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def words(text: str) -> list[str]:
    return _WORDS.findall(_fold(text))


def _stem(word: str) -> str:
    """Enough stemming for headlines: fines/fine, hits/hit, rolled/roll."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=1 << 16)
def _root(word: str) -> str:
    """The judge's stem: _stem, and a final e or y folded, so that "fine", "fines" and
    "fined" meet (_stem makes the last two "fin"), as do "policy" and "policies"."""
    word = _stem(word)
    if len(word) >= 4 and word[-1] == "e":
        return word[:-1]
    if len(word) >= 4 and word[-1] == "y":
        return word[:-1] + "i"
    return word


def _possessive(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) else word


def _tokens(text: str) -> list[str]:
    """The judge's words: as words(), but "AT&T", "R&D" and "M&A" stay whole (split,
    AT&T is a stop word and a letter, and two stories that differ only in it look
    alike), and a possessive is its name ("Qualcomm's" is "Qualcomm")."""
    return [_possessive(w) for w in _WORD.findall(_fold(text))]


def _analyse(text: str) -> tuple[set[str], set[str]]:
    """The judge's content words of a text (as content_words()) and its shingles (as
    shingles()), from one pass over its tokens."""
    kept: set[str] = set()
    roots: list[str] = []
    for w in _tokens(text):
        if w in _STOP:
            continue
        r = _root(w)
        roots.append(r)
        if len(w) > 1 or w.isdigit():
            kept.add(r)
    if len(roots) < 2:
        return kept, set(roots)
    return kept, {f"{roots[i]} {roots[i + 1]}" for i in range(len(roots) - 1)}


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in _STOP and (len(w) > 1 or w.isdigit())}


def shingles(text: str, size: int = 2) -> set[str]:
    ws = [w for w in words(text) if w not in _STOP]
    if len(ws) < size:
        return set(ws)
    if size == 2:  # the sketch's shingles: pairs, joined without slicing
        return {f"{a} {b}" for a, b in pairwise(ws)}
    return {" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1)}


_blake2b = hashlib.blake2b


def _h64(value: str) -> int:
    return int.from_bytes(_blake2b(value.encode(), digest_size=8).digest(), "big")


def sketch(title: str, summary: str) -> tuple[int, ...]:
    """One-permutation MinHash of the story's shingles: BINS minima."""
    features = content_words(clean_title(title)) | shingles(summary[:600])
    mins = [_EMPTY] * BINS
    # _h64 written out, and the bin as a mask (BINS is a power of two): this runs for
    # every entry of every source.
    for f in features:
        h = int.from_bytes(_blake2b(f.encode(), digest_size=8).digest(), "big")
        b = h & (BINS - 1)
        if h < mins[b]:  # noqa: PLR1730 -- a comparison, not a call to min(), per feature
            mins[b] = h
    return tuple(mins)


_NO_ROWS = (_EMPTY,) * ROWS_PER_BAND
_BAND_PREFIX = tuple(f"{b}:" for b in range(BANDS))


def bands(sig: tuple[int, ...]) -> list[int]:
    """One bucket per band; an empty band (no shingle fell in its bins) gives none."""
    out: list[int] = []
    for b in range(BANDS):
        rows = sig[b * ROWS_PER_BAND : (b + 1) * ROWS_PER_BAND]
        if rows == _NO_ROWS:
            out.append(-1)
            continue
        out.append(_h64(_BAND_PREFIX[b] + ",".join(map(str, rows))) >> 1)  # fits SQLite's signed 64 bits
    return out


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _amounts(text: str) -> set[str]:
    """The numbers of canonical_amounts() text, each with its currency."""
    return set(_AMOUNT_NUMBER.findall(text))


def _keep(word: str) -> bool:
    """The words content_words() keeps: a name must be one of them, or no other
    text could ever mention it (the judge adds one-letter names, see _LETTER)."""
    return word not in _STOP and (len(word) > 1 or word.isdigit())


def _capitalised_in(text: str) -> set[str]:
    """Folded words that the text writes only with a capital: names, as far as the
    text can tell ("Mozilla said", never "mozilla")."""
    upper: set[str] = set()
    lower: set[str] = set()
    for tok in _WORD.findall(text):
        (upper if tok[:1].isupper() else lower).add(_possessive(_fold(tok)))
    return upper - lower


def _names(title: str, summary: str = "") -> tuple[set[str], set[str]]:
    """Words of a title that look like names: capitalised, or with inner capitals
    (OpenAI, GPT-5, EU); and the capitalised words it cannot tell. In a title
    written in Title Case (or in capitals) every word is capitalised, so there a
    word counts only with inner capitals, or when the entry's own summary writes it
    with a capital every time ("Denmark Bans Shein On Government Devices" over "The
    government of Denmark said Shein...": Shein and Denmark, not Bans or Devices).
    Without that, two stories cut from one template ("... Bans Shein ..." and "...
    Bans TikTok ...") look alike once a publisher capitalises every word. The first
    word of any title is capitalised by its place, so it is judged the same way
    ("Hackers stole..." and "Data of ... exposed" name nobody). Numbers are not
    names: they have their own rule."""
    # Numbers, and the words canonical_amounts() writes after them, are neither names
    # nor a sign of Title Case.
    tokens = [t for t in re.findall(r"[^\W_][\w'’&.-]*", clean_title(title))
              if not t[0].isdigit() and t not in _AMOUNT_WORDS]
    content = [t for t in tokens if _fold(t) not in _STOP]  # AP style leaves small words lower
    capitalised = [t for t in content if t[:1].isupper()]
    title_case = len(capitalised) >= 0.7 * len(content) and len(content) >= 3
    # In capitals every word has inner capitals: only the summary can tell names.
    shouting = title_case and not any(c.islower() for t in tokens for c in t)
    in_summary = _capitalised_in(summary[:600])
    found: set[str] = set()
    unsure: set[str] = set()
    for n, tok in enumerate(tokens):
        if _fold(tok) in _STOP:
            continue
        inner = 0 if shouting else sum(1 for c in tok[1:] if c.isupper() or c.isdigit())
        parts = [w for w in _tokens(tok) if _keep(w)]
        if inner or (tok[:1].isupper() and not title_case and n > 0):
            found.update(_root(w) for w in parts)
        elif tok[:1].isupper():
            found.update(_root(w) for w in parts if w in in_summary)
            unsure.update(_root(w) for w in parts if w not in in_summary)
    return found, unsure


@dataclass(frozen=True)
class Verdict:
    same: bool
    title_similarity: float
    text_similarity: float
    reason: str


@dataclass(frozen=True)
class Thresholds:
    title: float = 0.6  # word overlap of the cleaned titles
    text: float = 0.5  # shingle overlap of title and summary together
    title_floor: float = 0.3  # below this, text overlap alone cannot merge
    lead: float = 0.8  # shingle overlap of the summaries' first sentences, for reworded titles


# For a reworded title (_same_opening): each title shares this many words with the
# other entry's summary, and the shorter summary has this share of its shingles in
# the longer.
_ABOUT = 2
_CONTAINED = 0.8


@dataclass(frozen=True)
class _Features:
    title_words: frozenset[str]
    text_shingles: frozenset[str]
    numbers: frozenset[str]  # in the title
    names: frozenset[str]
    unsure: frozenset[str]  # capitalised title words that may be names (Title Case)
    mentioned: frozenset[str]  # content words of title and summary: what the entry talks about
    mentioned_numbers: frozenset[str]
    lead: frozenset[str]  # shingles of the summary's first sentence
    lead_marks: frozenset[str]  # its names, numbers and currencies
    lead_words: frozenset[str]  # its content words
    summary_words: frozenset[str]
    summary_shingles: frozenset[str]


# About 12 KB an entry; a larger cache costs more memory than its extra hits save
# (docs/design.md, "One story, one entry").
@lru_cache(maxsize=1024)
def _features(title: str, summary: str) -> _Features:
    """What judge() compares, computed once per entry: a new entry is judged against
    each of its candidates, and a stored one against every entry it is a candidate of."""
    t = canonical_amounts(clean_title(title))
    head = canonical_amounts(summary[:600])
    lead = _SENTENCE_END.split(head.strip(), maxsplit=1)[0]
    letters = {_fold(x) for x in _LETTER.findall(t)}
    title_words, title_shingles = _analyse(t)
    title_words |= letters
    summary_words, summary_shingles = _analyse(head)
    lead_words, lead_shingles = _analyse(lead)
    names, unsure = _names(t, head)
    return _Features(
        title_words=frozenset(title_words),
        text_shingles=frozenset(title_shingles | summary_shingles),
        numbers=frozenset(_amounts(t)),
        names=frozenset(names | letters),
        unsure=frozenset(unsure - letters),
        mentioned=frozenset(title_words | summary_words | {_fold(x) for x in _LETTER.findall(head)}),
        mentioned_numbers=frozenset(_amounts(t) | _amounts(head)),
        lead=frozenset(lead_shingles),
        lead_words=frozenset(lead_words),
        lead_marks=_lead_marks(lead),
        summary_words=frozenset(summary_words),
        summary_shingles=frozenset(summary_shingles),
    )


@dataclass(frozen=True)
class _Screen:
    """What worth_judging() compares: a few dozen words an entry, so that many more
    stored entries fit its cache than _features' (see there)."""

    title_words: frozenset[str]
    lead: frozenset[str]
    lead_marks: frozenset[str]
    numbers: frozenset[str]
    mentioned_numbers: frozenset[str]


# A stored entry meets many new ones while it is in their window: this keeps the
# screen's features (about 3.5 KB an entry with its key) of a few days' entries
# (docs/design.md, "One story, one entry").
@lru_cache(maxsize=4096)
def _screen(title: str, head: str) -> _Screen:
    """The screen's features of an entry, ``head`` being its summary's first 600
    characters: computed as _features() computes the same fields."""
    t = canonical_amounts(clean_title(title))
    head = canonical_amounts(head)
    lead = _SENTENCE_END.split(head.strip(), maxsplit=1)[0]
    title_words = _analyse(t)[0] | {_fold(x) for x in _LETTER.findall(t)}
    numbers = _amounts(t)
    return _Screen(frozenset(title_words), frozenset(_analyse(lead)[1]), _lead_marks(lead),
                   frozenset(numbers), frozenset(numbers | _amounts(head)))


def _lead_marks(lead: str) -> frozenset[str]:
    """The names, numbers and currencies of a summary's opening sentence."""
    return frozenset(_root(_possessive(_fold(w))) for w in _WORD.findall(lead)
                     if w[0].isupper() or any(c.isdigit() for c in w) or w in _AMOUNT_WORDS)


def worth_judging(title_a: str, summary_a: str, title_b: str, summary_b: str,
                  thresholds: Thresholds = Thresholds()) -> bool:
    """False when judge() would certainly say "not the same story", from the titles'
    words and the summaries' opening sentences alone. judge() merges only when the
    titles are at least min(title, title_floor) alike or the summaries open with the
    same sentence (_same_opening's first two tests); stories cut from one template
    ("X raises $20m to build Y") share a sketch with many others but seldom that;
    and it applies judge()'s first rule, different numbers in the titles ("$20m"
    and "$50m"). Exact, not an estimate: every pair it turns away, judge() turns
    away too (tests/test_dedupe_cost.py checks it)."""
    a, b = _screen(title_a, summary_a[:600]), _screen(title_b, summary_b[:600])
    if (a.numbers - b.mentioned_numbers and b.mentioned_numbers - a.mentioned_numbers) or (
            b.numbers - a.mentioned_numbers and a.mentioned_numbers - b.mentioned_numbers):
        return False
    if jaccard(a.title_words, b.title_words) >= min(thresholds.title, thresholds.title_floor):
        return True
    return jaccard(a.lead, b.lead) >= thresholds.lead and a.lead_marks == b.lead_marks


def _same_opening(a: _Features, b: _Features, least: float) -> bool:
    """Copies of a wire story keep its text while a source rewrites the headline
    ("EU hits Google with €2 billion fine" over "Google fined €2bn by EU"). The text
    says it is one story when both summaries open with the same sentence (a word or
    two may differ, but not a name, a number or a currency), that sentence names
    what each headline names, each headline is about the other's text, and the
    shorter summary is mostly part of the longer. A newsletter's blurb, a follow-up
    that recaps the story, another story from the same template: each fails one."""
    if jaccard(a.lead, b.lead) < least:
        return False
    if a.lead_marks != b.lead_marks:  # "India's Supreme Court ruled" is not "Brazil's"
        return False
    if not ((a.names | a.unsure) & a.lead_words and (b.names | b.unsure) & b.lead_words):
        return False  # a blurb ("Your daily briefing on technology news.") names nobody
    if min(len(a.title_words & b.summary_words), len(b.title_words & a.summary_words)) < _ABOUT:
        return False
    shorter = min(len(a.summary_shingles), len(b.summary_shingles))
    return len(a.summary_shingles & b.summary_shingles) >= _CONTAINED * shorter


def _both_named(new_a: AbstractSet[str], a: _Features, new_b: AbstractSet[str], b: _Features) -> bool:
    """Each title says something the other entry never mentions, and on one side it
    is a name or a number, on the other a name, a number or a word that may be a name
    (Title Case hides them): "... zero-day in Zephyr 5" and "... Zero-Day In Nimbus
    Pro". A reworded headline changes other words: verbs, nouns, word order."""
    def named(new: AbstractSet[str], f: _Features) -> bool:
        return bool(new & f.names) or any(c.isdigit() for w in new for c in w)

    def maybe(new: AbstractSet[str], f: _Features) -> bool:
        return named(new, f) or bool(new & f.unsure)

    return (named(new_a, a) and maybe(new_b, b)) or (named(new_b, b) and maybe(new_a, a))


def judge(title_a: str, summary_a: str, title_b: str, summary_b: str,
          thresholds: Thresholds = Thresholds()) -> Verdict:
    """Are these two entries the same story?"""
    a, b = _features(title_a, summary_a), _features(title_b, summary_b)
    title_sim = jaccard(a.title_words, b.title_words)
    text_sim = jaccard(a.text_shingles, b.text_shingles)
    # Numbers: a number of one title that the other entry never mentions, while the
    # other gives a number of its own, in its title ("AI Weekly #41" and "#42") or its
    # text (a copy of the story with 38 flaws, where this title says 59). A number
    # one side leaves out, with nothing in its place, is a detail dropped in rewording.
    only_a = a.numbers - b.mentioned_numbers
    only_b = b.numbers - a.mentioned_numbers
    if (only_a and b.mentioned_numbers - a.mentioned_numbers) or (
            only_b and a.mentioned_numbers - b.mentioned_numbers):
        return Verdict(False, title_sim, text_sim,
                       f"different numbers in the titles ({', '.join(sorted(only_a | only_b))})")
    # A name in each title that the other does not mention at all: two subjects.
    only_a = a.names - b.mentioned
    only_b = b.names - a.mentioned
    if only_a and only_b:
        return Verdict(False, title_sim, text_sim,
                       f"the titles name different things ({', '.join(sorted(only_a | only_b))})")
    same_opening = _same_opening(a, b, thresholds.lead)
    # Each title says something the other entry never mentions, in its title or its
    # text: two stories cut from one template ("curbs on rare earth magnets" and
    # "curbs on advanced AI chips", same countries, same boilerplate), however much
    # of the rest they share. Copies of one story keep their headline's words, or
    # their text explains the change, or they open with the same sentence; that
    # excuses other verbs and nouns, not names or numbers on both sides.
    new_a = a.title_words - b.mentioned
    new_b = b.title_words - a.mentioned
    if new_a and new_b and (not same_opening or _both_named(new_a, a, new_b, b)):
        return Verdict(False, title_sim, text_sim,
                       f"each title says what the other never mentions ({', '.join(sorted(new_a | new_b))})")
    if title_sim >= thresholds.title:
        return Verdict(True, title_sim, text_sim, f"titles {title_sim:.2f} alike")
    if text_sim >= thresholds.text and title_sim >= thresholds.title_floor:
        return Verdict(True, title_sim, text_sim, f"text {text_sim:.2f} alike, titles {title_sim:.2f}")
    if same_opening:
        return Verdict(True, title_sim, text_sim,
                       f"same opening sentence, titles reworded ({title_sim:.2f} alike)")
    return Verdict(False, title_sim, text_sim, f"titles {title_sim:.2f}, text {text_sim:.2f} alike")
