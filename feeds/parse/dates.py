"""Dates that feedparser reads wrong or not at all, read right; and a count of those
no one can read.

feedparser's own parsers read RFC 822, ISO 8601 and W3CDTF well, and those are
left to them. What the real world also writes, and feedparser gets wrong, is:

- numeric dates with a four-digit year first (``2020/1/10 14:33:00``, which
  feedparser turns into 2020-12-01), and day/month/year or month/day/year
  where a field above 12 tells which is which;
- 12-hour clocks (``Dec 16 2023 02:02:33 PM``: feedparser drops the PM);
- month and day names in other languages (``mer, 16 nov 2022``: unread);
- time-zone names it does not know (``CET``: read as UTC).

``registerDateHandler`` puts our handler before feedparser's, so both parse
paths (the feedparser adapter and ``fastparse``, which calls
``feedparser.datetimes._parse_date``) read dates the same way once this module
is imported. The handler claims a string only when it is in one of the forms
above; it leaves strict RFC 822 and ISO 8601 to feedparser. A string in our
forms that names no real date, or could be read two ways (``03/04/2020``), is
answered with ``UNREADABLE``, a 9-tuple no calendar holds, so that none of
feedparser's handlers goes on to guess (they would roll ``2020-13-01`` over to
2021). ``utc_datetime`` and ``calendar.timegm`` refuse it, so it reads as no date.

Naive times are taken as UTC, as feedparser takes them.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser
from feedparser.datetimes import _parse_date

from feeds.parse.fastparse import utc_datetime

# Year 0, month 0: timegm() raises ValueError on it, and both parse paths read
# such a tuple as no date. feedparser only checks that a handler's answer has nine fields.
UNREADABLE = (0, 0, 0, 0, 0, 0, 0, 0, 0)

# Longer strings are not dates; refusing them bounds the regular expressions' work.
MAX_LENGTH = 200


@dataclass(frozen=True)
class Unread:
    """A string in a form we read that gives no single date, and why."""

    reason: str


# --- words -------------------------------------------------------------------


def _fold(word: str) -> str:
    """Lower case without accents: feeds write "fevrier" as often as "février"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ł", "l")


def _months(*names: str) -> dict[str, int]:
    """Each of twelve space-separated groups of names (and their abbreviations), by month."""
    out: dict[str, int] = {}
    for month, group in enumerate(names, start=1):
        for word in group.split():
            out[_fold(word)] = month
    return out


# Genitive forms (Polish, Czech) are the ones dates use: "16 listopada 2022".
MONTHS = _months(
    "january jan janvier janv januar jänner jaen enero ene gennaio gen janeiro januari "
    "styczeń stycznia sty leden ledna led",
    "february feb février févr fév fevr fev februar feber febrero febbraio fevereiro februari "
    "luty lutego lut únor února úno",
    "march mar mars märz mär mrz maerz marzo março marco maart mrt marts marzec marca "
    "březen března bře",
    "april apr avril avr abril abr aprile kwiecień kwietnia kwi duben dubna dub",
    "may mai mayo maggio mag maio mei maj maja květen května kvě",
    "june jun juin juni junio giugno giu junho czerwiec czerwca cze červen června čer",
    "july jul juillet juil juli julio luglio lug julho lipiec lipca lip červenec července čvc",
    "august aug août aout agosto ago augustus augusti sierpień sierpnia sie srpen srpna srp",
    "september sep sept septembre septiembre setiembre settembre set setembro wrzesień "
    "września wrz září zář",
    "october oct octobre oktober okt octubre ottobre ott outubro out październik "
    "października paź říjen října říj",
    "november nov novembre noviembre novembro listopad listopada lis listopadu",
    "december dec décembre déc dezember dez diciembre dic dicembre dezembro desember des "
    "grudzień grudnia gru prosinec prosince pro",
)

# Weekday names say nothing a date does not; they are recognised so that a string
# holding one is still ours, and ignored (publishers often get them wrong).
def _words(text: str) -> frozenset[str]:
    return frozenset(_fold(w) for w in text.split())


WEEKDAYS = _words(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun "
    "lundi mardi mercredi jeudi vendredi samedi dimanche lun mar mer jeu ven sam dim "
    "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag mo di mi do fr sa so "
    "lunes martes miércoles jueves viernes sábado domingo mié mie jue vie sáb dom "
    "lunedì martedì mercoledì giovedì venerdì sabato domenica gio "
    "segunda terça quarta quinta sexta feira seg ter qua qui sex "
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag ma wo vr za zo "
    "poniedziałek wtorek środa czwartek piątek sobota niedziela pon wt śr czw pt sob nd niedz "
    "måndag tisdag onsdag torsdag fredag lördag söndag mån tis ons tor tors fre lör sön "
    "mandag tirsdag lørdag søndag man tir lør søn "
    "pondělí úterý středa čtvrtek pátek neděle"
)

# Words between the parts of a date: "16 de noviembre de 2022", "am 16. November um 14:00".
FILLERS = _words(
    "the of at on de del di du le la el il den der am um om à às as a alle kl klo klockan "
    "godz godzina uhr h hrs o v ve"
)

# Minutes east of UTC. The US names and MET/MEST read as feedparser reads them.
ZONES: dict[str, int] = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0, "west": 60, "bst": 60,
    "cet": 60, "cest": 120, "met": 60, "mest": 120, "mez": 60, "mesz": 120,
    "eet": 120, "eest": 180, "msk": 180,
    "ast": -240, "adt": -180, "nst": -210, "ndt": -150,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300,
    "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
    "akst": -540, "akdt": -480, "hst": -600,
    "wib": 420, "hkt": 480, "sgt": 480, "awst": 480, "jst": 540, "kst": 540,
    "acst": 570, "acdt": 630, "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
}
# Names that stand for zones hours apart (IST: India, Ireland, Israel).
AMBIGUOUS_ZONES = frozenset({"ist"})


# --- the forms feedparser reads right ------------------------------------------

# feedparser reads an offset without a colon after seconds as whole hours
# ("+0530" as +05:00), so those are ours.
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                  r" ?(?:z|[+-]\d{2}(?::\d{2}|00)?)?)?")
_RFC822 = re.compile(r"(?:(?:mon|tue|wed|thu|fri|sat|sun),? ?)?\d{1,2} "
                     r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (?:\d{2}|\d{4})"
                     r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"
                     r"(?: (?:[+-]\d{4}|ut|utc|gmt|z|est|edt|cst|cdt|mst|mdt|pst|pdt))?")

# --- our forms ----------------------------------------------------------------------

_AMPM = re.compile(r"(?<=[\d\s])([ap])\.? ?m\b\.?")
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th|er|e|º|ª)\b")
# A dash or slash between a word and a number ("16-nov-2022"), but not a zone's sign ("GMT-3").
_DASH_BETWEEN = re.compile(r"(?<=[^\W\d_])(?<!gmt)(?<!utc)(?<!ut)[-/](?=\d)"
                           r"|(?<=\d)[-/](?=[^\W\d_])|(?<=[^\W\d_])-(?=[^\W\d_])")
_CLOCK = re.compile(r"(?<![\d.:+-])(\d{1,2})(?::|h(?=\d))(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
                    r"(?: ?(am|pm)\b)?(?![\d:])")
_KL_CLOCK = re.compile(r"\b(?:kl|klo|klockan)\.? ?(\d{1,2})\.(\d{2})(?!\d)")
_BARE_HOUR = re.compile(r"(?<![\d.:])(\d{1,2}) ?(am|pm)\b")
_NUMERIC = re.compile(r"(?<![\d.:/-])(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})(?![\d:/-])")
_T_BETWEEN = re.compile(r"(?<=\d)t(?=\d)")
_OFFSET = re.compile(r"(?:(?<=\s)|^|(?<=gmt)|(?<=utc)|(?<=ut))([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)")
_TOKEN = re.compile(r"\d+|[^\W\d_]+")


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _valid_day(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _days_in(year, month) and 1 <= year <= 9999


def _prepare(value: str) -> str:
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    return " ".join(value.lower().split())


def claim(value: str) -> datetime | Unread | None:
    """Our reading of ``value``: a UTC datetime, ``Unread`` for a string of our forms
    that gives no single date, or None for a string we leave to feedparser."""
    s = _prepare(value)
    if len(s) > MAX_LENGTH:
        return Unread("too long to be a date")
    if _RFC822.fullmatch(s):
        return None
    iso = _ISO.fullmatch(s)
    if iso:
        y, mo, d = int(iso[1]), int(iso[2]), int(iso[3])
        if not _valid_day(y, mo, d):
            return Unread("there is no such day")
        if iso[4] is not None and (int(iso[4]) > 23 or int(iso[5]) > 59 or int(iso[6] or 0) > 60):
            return Unread("there is no such time of day")
        return None
    return _read(s)


def _read(s: str) -> datetime | Unread | None:
    s = _AMPM.sub(lambda m: f" {m[1]}m ", s)
    s = _ORDINAL.sub("", s)
    s = _T_BETWEEN.sub(" ", s)
    s = " ".join(_DASH_BETWEEN.sub(" ", s).split())

    hour = minute = second = micro = 0
    half: str | None = None
    clock = _CLOCK.search(s) or _KL_CLOCK.search(s)
    if clock is not None:
        hour, minute = int(clock[1]), int(clock[2])
        if clock.re is _CLOCK:
            second = int(clock[3] or 0)
            micro = int((clock[4] or "0")[:6].ljust(6, "0"))
            half = clock[5]
        s = s[:clock.start()] + " " + s[clock.end():]
    else:
        bare = _BARE_HOUR.search(s)
        if bare is not None:
            hour, half = int(bare[1]), bare[2]
            s = s[:bare.start()] + " " + s[bare.end():]

    numeric = _NUMERIC.search(s)
    if numeric is not None:
        s = s[:numeric.start()] + " " + s[numeric.end():]

    offset: int | None = None
    found = _OFFSET.search(s)
    if found is not None:
        hours, minutes = int(found[2]), int(found[3] or 0)
        if hours > 14 or minutes > 59:
            return None
        offset = (hours * 60 + minutes) * (-1 if found[1] == "-" else 1)
        s = s[:found.start()] + " " + s[found.end():]

    numbers: list[tuple[int, str]] = []  # (position among the tokens, digits)
    months: list[tuple[int, int, bool]] = []  # (position, month, also a weekday)
    zone_names: list[str] = []
    for i, token in enumerate(_TOKEN.findall(s)):
        if token.isdigit():
            numbers.append((i, token))
            continue
        word = _fold(token)
        if word in MONTHS:
            months.append((i, MONTHS[word], word in WEEKDAYS))
        elif word in ZONES or word in AMBIGUOUS_ZONES:
            zone_names.append(word)
        elif word in WEEKDAYS or word in FILLERS:
            continue
        else:
            return None  # a word we do not know: not a date of ours

    date: tuple[int, int, int] | Unread | None
    if numeric is not None:
        if months or numbers:
            return None
        date = _numeric_date(numeric)
    else:
        date = _named_date(numbers, months)
    if date is None or isinstance(date, Unread):
        return date
    year, month, day = date

    if zone_names:
        if zone_names[0] in AMBIGUOUS_ZONES:
            return Unread(f"the time zone {zone_names[0].upper()} names several zones")
        if offset is None:
            offset = ZONES[zone_names[0]]
    if half is not None:
        if hour == 0 or hour > 12:
            if half == "am" and hour != 0:
                return Unread("the hour is past noon but marked AM")
        elif half == "am":
            hour = 0 if hour == 12 else hour
        else:
            hour = 12 if hour == 12 else hour + 12
    if hour > 23 or minute > 59 or second > 60:
        return Unread("there is no such time of day")
    second = min(second, 59)  # a leap second is the last second of its minute
    try:
        local = datetime(year, month, day, hour, minute, second, micro,
                         tzinfo=timezone(timedelta(minutes=offset or 0)))
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return Unread("the date is outside the years a calendar here holds")


def _numeric_date(m: re.Match[str]) -> tuple[int, int, int] | Unread:
    a, b, c = m[1], m[3], m[4]
    if len(a) == 4:
        y, mo, d = int(a), int(b), int(c)
    elif len(c) == 4 and len(a) <= 2:
        first, second = int(a), int(b)
        if first > 12 >= second:
            d, mo = first, second
        elif second > 12 >= first:
            mo, d = first, second
        elif first == second:
            d = mo = first
        else:
            return Unread("day and month could be either way round")
        y = int(c)
    else:
        return Unread("a two-digit year leaves the order of the fields open")
    if not _valid_day(y, mo, d):
        return Unread("there is no such day")
    return y, mo, d


def _named_date(numbers: list[tuple[int, str]],
                months: list[tuple[int, int, bool]]) -> tuple[int, int, int] | Unread | None:
    if not months or len(numbers) != 2:
        return None
    # "mar" is March, or Tuesday in French, Spanish and Italian; a weekday comes first.
    plain = [m for m in months if not m[2]]
    if len(plain) > 1 or len(months) > 2 or (len(months) == 2 and len(plain) == 0 and
                                            months[0][1] != months[1][1]):
        return None
    where, month, _ = plain[0] if plain else months[-1]
    years = [n for n in numbers if len(n[1]) == 4]
    if len(years) == 1:
        day_digits = next(n for n in numbers if n is not years[0])[1]
        year = int(years[0][1])
    elif not years and numbers[0][0] < where < numbers[1][0] and len(numbers[1][1]) == 2:
        day_digits = numbers[0][1]  # "16 nov 22", as RFC 822 allows
        year = 2000 + int(numbers[1][1]) if int(numbers[1][1]) < 70 else 1900 + int(numbers[1][1])
    else:
        return None
    if len(day_digits) > 2:
        return None
    day = int(day_digits)
    if not _valid_day(year, month, day):
        return Unread("there is no such day")
    return year, month, day


# --- the handler and the count of dates no one could read -------------------------------

_inside: ContextVar[bool] = ContextVar("feeds_dates_inside", default=False)
_unread: ContextVar[list[str] | None] = ContextVar("feeds_dates_unread", default=None)


def _handler(value: Any) -> Any:
    """feedparser's first date handler: our reading, UNREADABLE, or None to let
    feedparser's own handlers read the string."""
    if _inside.get() or not isinstance(value, str):
        return None
    verdict = claim(value)
    if isinstance(verdict, datetime):
        return verdict.utctimetuple()
    if isinstance(verdict, Unread):
        note_unreadable(value)
        return UNREADABLE
    collected = _unread.get()
    if collected is None:
        return None
    # Counting: run feedparser's handlers here, to learn whether any reads it.
    token = _inside.set(True)
    try:
        parsed = _parse_date(value)
    finally:
        _inside.reset(token)
    if utc_datetime(parsed) is None:
        collected.append(value)
    return parsed


feedparser.registerDateHandler(_handler)


def read_date(value: str) -> datetime | None:
    """``value`` as an aware UTC datetime, read as both parse paths read dates; None
    when it is no date (and then counted, inside ``collecting``)."""
    if not value.strip():
        return None
    return utc_datetime(_parse_date(value.strip()))


def note_unreadable(value: str) -> None:
    """Count ``value`` as a date that could not be read, inside ``collecting``."""
    collected = _unread.get()
    if collected is not None:
        collected.append(value)


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    """The date strings that no parser could read while the block ran."""
    found: list[str] = []
    token = _unread.set(found)
    try:
        yield found
    finally:
        _unread.reset(token)


def explain(value: str) -> str:
    """Why ``value`` reads as no date, in a few words."""
    verdict = claim(value)
    if isinstance(verdict, Unread):
        return verdict.reason
    return "not a date format this program knows"


def unreadable_warning(values: list[str]) -> str:
    """The run report's line for the dates of one document that could not be read."""
    n = len(values)
    example = values[0].strip()
    shown = example if len(example) <= 60 else example[:57] + "..."
    return (f"{n} date{'s' if n != 1 else ''} could not be read, e.g. {shown!r} "
            f"({explain(example)}); {'they are' if n != 1 else 'it is'} taken as the time first seen")
