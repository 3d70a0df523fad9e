"""Near-duplicate stories: sketches for candidate search, and the decision itself.

Pure. Finding candidates must not compare a new entry with every stored one,
so each entry gets a MinHash sketch of its word shingles (one-permutation
hashing: one hash per shingle, the minimum per bin), cut into bands; entries
sharing any band are candidates (locality-sensitive hashing). Candidates are
then judged on their text: title and summary overlap, with the numbers and
names of the two titles as evidence against a merge ("AI Weekly #41" is not
"AI Weekly #42"; "Intel cuts jobs" is not "AMD cuts jobs").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

BINS = 32
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
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _fold(text: str) -> str:
    if text.isascii():
        return text.casefold()  # nothing to decompose: the common case, and the hot path of judge()
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def clean_title(title: str) -> str:
    return _PREFIXES.sub("", title.strip())


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:['’][^\W_]+)?", _fold(text))


def _stem(word: str) -> str:
    """Enough stemming for headlines: fines/fine, hits/hit, rolled/roll."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in words(text) if w not in _STOP and (len(w) > 1 or w.isdigit())}


def shingles(text: str, size: int = 2) -> set[str]:
    ws = [w for w in words(text) if w not in _STOP]
    if len(ws) < size:
        return set(ws)
    return {" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1)}


def _h64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


def sketch(title: str, summary: str) -> tuple[int, ...]:
    """One-permutation MinHash of the story's shingles: BINS minima."""
    features = content_words(clean_title(title)) | shingles(summary[:600])
    mins = [_EMPTY] * BINS
    for f in features:
        h = _h64(f)
        b = h % BINS
        mins[b] = min(mins[b], h)
    return tuple(mins)


def bands(sig: tuple[int, ...]) -> list[int]:
    """One bucket per band; an empty band (no shingle fell in its bins) gives none."""
    out: list[int] = []
    for b in range(BANDS):
        rows = sig[b * ROWS_PER_BAND : (b + 1) * ROWS_PER_BAND]
        if all(r == _EMPTY for r in rows):
            out.append(-1)
            continue
        out.append(_h64(f"{b}:" + ",".join(map(str, rows))) >> 1)  # fits SQLite's signed 64 bits
    return out


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _keep(word: str) -> bool:
    """The words content_words() keeps: a name must be one of them, or no other
    text could ever mention it ("X", the "t" of "AT&T")."""
    return word not in _STOP and (len(word) > 1 or word.isdigit())


def _capitalised_in(text: str) -> set[str]:
    """Folded words that the text writes only with a capital: names, as far as the
    text can tell ("Mozilla said", never "mozilla")."""
    upper: set[str] = set()
    lower: set[str] = set()
    for tok in re.findall(r"[^\W_]+", text):
        (upper if tok[:1].isupper() else lower).add(_fold(tok))
    return upper - lower


def _names(title: str, summary: str = "") -> set[str]:
    """Words of a title that look like names: capitalised, or with inner capitals
    (OpenAI, GPT-5, EU). In a title written in Title Case every word is
    capitalised, so there a word counts only with inner capitals, or when the
    entry's own summary writes it with a capital every time ("Denmark Bans Shein
    On Government Devices" over "The government of Denmark said Shein...": Shein
    and Denmark, not Bans or Devices). Without that, two stories cut from one
    template ("... Bans Shein ..." and "... Bans TikTok ...") look alike once a
    publisher capitalises every word."""
    tokens = re.findall(r"[^\W_][\w'’&.-]*", clean_title(title))
    if not tokens:
        return set()
    capitalised = [t for t in tokens if t[:1].isupper()]
    title_case = len(capitalised) >= 0.7 * len(tokens) and len(tokens) >= 3
    in_summary = _capitalised_in(summary[:600]) if title_case else set()
    found: set[str] = set()
    for tok in tokens:
        if _fold(tok) in _STOP:
            continue
        inner = sum(1 for c in tok[1:] if c.isupper() or c.isdigit())
        if inner or (tok[:1].isupper() and not title_case):
            found.update(_stem(w) for w in words(tok) if _keep(w))
        elif tok[:1].isupper():
            found.update(_stem(w) for w in words(tok) if _keep(w) and w in in_summary)
    return found


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


@dataclass(frozen=True)
class _Features:
    title_words: frozenset[str]
    text_shingles: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]
    mentioned: frozenset[str]  # content words of title and summary: what the entry talks about


@lru_cache(maxsize=4096)
def _features(title: str, summary: str) -> _Features:
    """What judge() compares, computed once per entry: a new entry is judged against
    each of its candidates, and a stored one against every entry it is a candidate of."""
    t = clean_title(title)
    head = summary[:600]
    title_words = content_words(t)
    return _Features(frozenset(title_words), frozenset(shingles(t) | shingles(head)),
                     frozenset(_numbers(t)), frozenset(_names(t, summary)),
                     frozenset(title_words | content_words(head)))


def judge(title_a: str, summary_a: str, title_b: str, summary_b: str,
          thresholds: Thresholds = Thresholds()) -> Verdict:
    """Are these two entries the same story?"""
    a, b = _features(title_a, summary_a), _features(title_b, summary_b)
    title_sim = jaccard(a.title_words, b.title_words)
    text_sim = jaccard(a.text_shingles, b.text_shingles)
    if a.numbers != b.numbers and a.numbers and b.numbers:
        return Verdict(False, title_sim, text_sim,
                       f"different numbers in the titles ({', '.join(sorted(a.numbers ^ b.numbers))})")
    # A name in each title that the other does not mention at all: two subjects.
    only_a = a.names - b.mentioned
    only_b = b.names - a.mentioned
    if only_a and only_b:
        return Verdict(False, title_sim, text_sim,
                       f"the titles name different things ({', '.join(sorted(only_a | only_b))})")
    # Each title says something the other entry never mentions, in its title or its
    # text: two stories cut from one template ("curbs on rare earth magnets" and
    # "curbs on advanced AI chips", same countries, same boilerplate), however much
    # of the rest they share. Copies of one story keep their headline's words, or
    # their text explains the change.
    new_a = a.title_words - b.mentioned
    new_b = b.title_words - a.mentioned
    if new_a and new_b:
        return Verdict(False, title_sim, text_sim,
                       f"each title says what the other never mentions ({', '.join(sorted(new_a | new_b))})")
    if title_sim >= thresholds.title:
        return Verdict(True, title_sim, text_sim, f"titles {title_sim:.2f} alike")
    if text_sim >= thresholds.text and title_sim >= thresholds.title_floor:
        return Verdict(True, title_sim, text_sim, f"text {text_sim:.2f} alike, titles {title_sim:.2f}")
    return Verdict(False, title_sim, text_sim, f"titles {title_sim:.2f}, text {text_sim:.2f} alike")
