"""Dates feedparser reads wrong or not at all (feeds/dates.py), on both parse paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape

import pytest
from conftest import FeedServer, Project
from helpers import parsed, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.parse.adapter import parse_document, parse_with_feedparser
from feeds.parse.dates import claim, explain, read_date
from feeds.parse.fastparse import fast_parse
from feeds.types import Document


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# (as written, the moment it means in UTC; None: it must stay unread)
TABLE: list[tuple[str, datetime | None]] = [
    # The three of the issue: feedparser gave 2020-12-01, 02:02:33, and nothing.
    ("2020/1/10 14:33:00", utc(2020, 1, 10, 14, 33)),
    ("Dec 16 2023 02:02:33 PM", utc(2023, 12, 16, 14, 2, 33)),
    ("mer, 16 nov 2022", utc(2022, 11, 16)),
    ("mer, 16 nov 2022 00:38:15 +0100", utc(2022, 11, 15, 23, 38, 15)),
    ("Sat, Dec 16 2023 02:02:33 PM", utc(2023, 12, 16, 14, 2, 33)),
    # Numeric, year first: any separator, one- or two-digit fields, with or without a time.
    ("2020/01/10", utc(2020, 1, 10)),
    ("2020.1.5", utc(2020, 1, 5)),
    ("2020.01.10 14:33", utc(2020, 1, 10, 14, 33)),
    ("2020-1-10 14:33:00", utc(2020, 1, 10, 14, 33)),
    ("2020/01/10T14:33:00", utc(2020, 1, 10, 14, 33)),
    ("2020/01/10 14:33:00 +0200", utc(2020, 1, 10, 12, 33)),
    ("2020/12/25 12:00 AM", utc(2020, 12, 25, 0, 0)),
    ("2023-12-16 2:02 PM", utc(2023, 12, 16, 14, 2)),
    # Year last: read only when a field above 12 says which is the day.
    ("13/01/2020", utc(2020, 1, 13)),
    ("01/13/2020 10:00", utc(2020, 1, 13, 10, 0)),
    ("12/16/2023 02:02:33 PM", utc(2023, 12, 16, 14, 2, 33)),
    ("16.11.2022 14:00", utc(2022, 11, 16, 14, 0)),
    ("5.5.2020", utc(2020, 5, 5)),  # either way round, the same day
    ("31-12-1999 23:59:59", utc(1999, 12, 31, 23, 59, 59)),
    # 12-hour clocks.
    ("December 16, 2023 2:02 pm", utc(2023, 12, 16, 14, 2)),
    ("December 16th, 2023 at 2 p.m.", utc(2023, 12, 16, 14, 0)),
    ("Dec 16 2023 12:02:33 AM", utc(2023, 12, 16, 0, 2, 33)),
    ("Dec 16 2023 12:02:33 PM", utc(2023, 12, 16, 12, 2, 33)),
    ("16 nov 2022 12:30 a.m.", utc(2022, 11, 16, 0, 30)),
    ("Wed, 16 Nov 2022 10:00 PM GMT", utc(2022, 11, 16, 22, 0)),
    ("Wed, 16 Nov 2022 10:00 PM EST", utc(2022, 11, 17, 3, 0)),
    ("Nov 16, 2022 9:05:07 P.M. CET", utc(2022, 11, 16, 20, 5, 7)),
    ("16 Nov 2022 14:00 PM", utc(2022, 11, 16, 14, 0)),  # a redundant PM is harmless
    # Zones feedparser reads as UTC, offsets written after GMT/UTC.
    ("Wed, 16 Nov 2022 10:00:00 CET", utc(2022, 11, 16, 9, 0)),
    ("Wed, 16 Nov 2022 10:00:00 CEST", utc(2022, 11, 16, 8, 0)),
    ("Wed, 16 Nov 2022 10:00:00 JST", utc(2022, 11, 16, 1, 0)),
    ("Wed, 16 Nov 2022 10:00:00 AEDT", utc(2022, 11, 15, 23, 0)),
    ("16 Nov 2022 10:00 GMT-3", utc(2022, 11, 16, 13, 0)),
    ("16 Nov 2022 10:00 UTC+05:30", utc(2022, 11, 16, 4, 30)),
    ("woensdag 16 november 2022 14:00 CET", utc(2022, 11, 16, 13, 0)),
    # Day and month names of other languages.
    ("Mittwoch, 16. November 2022", utc(2022, 11, 16)),
    ("am 16. März 2022 um 14:00 Uhr", utc(2022, 3, 16, 14, 0)),
    ("Mi, 16 Mär 2022 08:00:00 +0100", utc(2022, 3, 16, 7, 0)),
    ("16 de noviembre de 2022 10:30", utc(2022, 11, 16, 10, 30)),
    ("miércoles, 16 de noviembre de 2022", utc(2022, 11, 16)),
    ("mar, 15 mar 2022 10:00", utc(2022, 3, 15, 10, 0)),  # mar: Tuesday, then March
    ("mar 15 2022", utc(2022, 3, 15)),
    ("martedì 15 marzo 2022", utc(2022, 3, 15)),
    ("quarta-feira, 16 de novembro de 2022 às 14h33", utc(2022, 11, 16, 14, 33)),
    ("sáb, 03 dez 2022 09:00:00 -0300", utc(2022, 12, 3, 12, 0)),
    ("mercredi 16 novembre 2022 à 14h33", utc(2022, 11, 16, 14, 33)),
    ("1er février 2022", utc(2022, 2, 1)),
    ("1 fevrier 2022", utc(2022, 2, 1)),  # accents dropped
    ("jeu., 17 août 2023 06:00:00 +0200", utc(2023, 8, 17, 4, 0)),
    ("wo 16 mrt 2022 14:00", utc(2022, 3, 16, 14, 0)),
    ("16 listopada 2022 godz. 14:00", utc(2022, 11, 16, 14, 0)),
    ("śr, 16 lis 2022 10:00:00 +0100", utc(2022, 11, 16, 9, 0)),
    ("onsdag 16 november 2022 kl. 14.00", utc(2022, 11, 16, 14, 0)),
    ("lör 3 dec 2022 10:00", utc(2022, 12, 3, 10, 0)),
    ("lørdag den 3. december 2022", utc(2022, 12, 3)),
    ("16. listopadu 2022", utc(2022, 11, 16)),
    ("středa 16. listopadu 2022 14:00", utc(2022, 11, 16, 14, 0)),
    ("16-Nov-2022 10:00", utc(2022, 11, 16, 10, 0)),
    ("Wed Nov 16 10:00:00 2022", utc(2022, 11, 16, 10, 0)),
    # What feedparser reads right stays with it, and stays right.
    ("Wed, 16 Nov 2022 10:00:00 +0100", utc(2022, 11, 16, 9, 0)),
    ("Tue, 10 Jan 2020 12:00:00 EST", utc(2020, 1, 10, 17, 0)),
    ("17 Jan 2009 21:02:58 EST", utc(2009, 1, 18, 2, 2, 58)),
    ("2022-11-16T10:00:00Z", utc(2022, 11, 16, 10, 0)),
    ("2007-06-15T09:50:54.337718-08:00", utc(2007, 6, 15, 17, 50, 54)),
    ("2019-08-27", utc(2019, 8, 27)),
    # ... except an offset without a colon after seconds, which it reads as whole hours.
    ("2022-11-16T10:00:00+0530", utc(2022, 11, 16, 4, 30)),
    ("2022-11-16 10:00:00 -0330", utc(2022, 11, 16, 13, 30)),
    # Unread rather than guessed.
    ("10/01/2020", None),  # 10 January or 1 October?
    ("03.04.2022 10:00", None),
    ("10/01/20", None),  # and is 20 the year?
    ("2020-13-01", None),  # feedparser made it 2021-01-01
    ("2020/13/01", None),
    ("2020-02-30", None),
    ("2021/2/29", None),
    ("31 nov 2022", None),
    ("Wed, 16 Nov 2022 10:00:00 IST", None),  # India, Ireland or Israel?
    ("16 nov 2022 14:00 AM", None),
    ("Dec 16 2023 25:00", None),
    ("not a date", None),
    ("", None),
    ("1" * 5000, None),
    ("16 nov 2022 " + "x" * 300, None),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t[:40] for t, _ in TABLE])
def test_date_table(text: str, expected: datetime | None) -> None:
    assert read_date(text) == expected


def _rss(dates: list[str]) -> bytes:
    items = "".join(f"<item><title>i{n}</title><guid>g{n}</guid><pubDate>{escape(d)}</pubDate></item>"
                    for n, d in enumerate(dates))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>https://example.com/</link>{items}</channel></rss>").encode()


def _doc(body: bytes, content_type: str = "application/rss+xml") -> Document:
    return Document("src", "https://feeds.example.org/feed.xml", body, {"content-type": content_type})


def test_both_parse_paths_read_the_table_alike() -> None:
    dates = [t for t, _ in TABLE if t.strip() and len(t) < 200]
    doc = _doc(_rss(dates))
    fast = fast_parse(doc)
    assert fast is not None  # the lxml path took it
    slow = parse_with_feedparser(doc)
    assert fast == slow
    expected = dict(TABLE)
    assert [e.published for e in fast.entries] == [expected[t] for t in dates]


def test_atom_dates_on_both_paths() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>'
            b"<entry><id>urn:e</id><title>u</title><published>Dec 16 2023 02:02:33 PM</published>"
            b"<updated>2020/1/10 14:33:00</updated></entry></feed>")
    fast = fast_parse(_doc(body, "application/atom+xml"))
    assert fast is not None and fast == parse_with_feedparser(_doc(body, "application/atom+xml"))
    assert fast.entries[0].published == utc(2023, 12, 16, 14, 2, 33)
    assert fast.entries[0].updated == utc(2020, 1, 10, 14, 33)


def test_unreadable_dates_are_counted_alike_on_both_paths() -> None:
    dates = ["10/01/2020", "2020/1/10 14:33:00", "someday", "Wed, 16 Nov 2022 10:00:00 IST",
             "Mon, 32 Jan 2020"]
    fast = parse_document(_doc(_rss(dates)))
    # A channel element the fast path does not reproduce sends the same items to feedparser.
    slow_body = _rss(dates).replace(b"<title>T</title>", b"<title>T</title><image><url>x</url></image>")
    assert fast_parse(_doc(slow_body)) is None
    slow = parse_document(_doc(slow_body))
    assert fast.unreadable_dates == slow.unreadable_dates == 4
    assert fast.warnings == slow.warnings
    [warning] = fast.warnings
    assert warning.startswith("4 dates could not be read, e.g. '10/01/2020' "
                              "(day and month could be either way round)")
    assert sum(e.published is None for e in fast.entries) == 4


def test_a_feed_with_readable_dates_has_no_warning() -> None:
    feed = parse_document(_doc(_rss(["Wed, 16 Nov 2022 10:00:00 +0100", "mer, 16 nov 2022"])))
    assert feed.unreadable_dates == 0 and feed.warnings == ()


def test_explanations() -> None:
    assert explain("10/01/2020") == "day and month could be either way round"
    assert explain("2020-02-30") == "there is no such day"
    assert explain("soon") == "not a date format this program knows"
    assert claim("Wed, 16 Nov 2022 10:00:00 +0100") is None  # left to feedparser
    assert claim("2022-11-16T10:00:00Z") is None


# --- round trips: any moment, written in each style and language, reads back -------------

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "en3": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "it3": "gen feb mar apr mag giu lug ago set ott nov dic",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "pl": "stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października "
          "listopada grudnia",
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "da": "januar februar marts april maj juni juli august september oktober november december",
    "no": "januar februar mars april mai juni juli august september oktober november desember",
    "cs": "ledna února března dubna května června července srpna září října listopadu prosince",
}
WEEKDAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "en3": "Mon Tue Wed Thu Fri Sat Sun",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica",
    "it3": "lun mar mer gio ven sab dom",
    "pt": "segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado domingo",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
    "pl": "poniedziałek wtorek środa czwartek piątek sobota niedziela",
    "sv": "måndag tisdag onsdag torsdag fredag lördag söndag",
    "da": "mandag tirsdag onsdag torsdag fredag lørdag søndag",
    "no": "mandag tirsdag onsdag torsdag fredag lørdag søndag",
    "cs": "pondělí úterý středa čtvrtek pátek sobota neděle",
}
ZONES = {"CET": 60, "CEST": 120, "EET": 120, "PST": -480, "PDT": -420, "JST": 540, "AEST": 600,
         "BST": 60, "MSK": 180, "NZDT": 780, "GMT": 0, "UTC": 0}


def _clock(moment: datetime, twelve: bool) -> str:
    if not twelve:
        return f"{moment:%H:%M:%S}"
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def _zone(offset_minutes: int, name: str | None) -> str:
    if name is not None:
        return name
    sign = "-" if offset_minutes < 0 else "+"
    return f"{sign}{abs(offset_minutes) // 60:02d}{abs(offset_minutes) % 60:02d}"


@st.composite
def written_dates(draw: st.DrawFn) -> tuple[str, datetime]:
    moment = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
    moment = moment.replace(microsecond=0)
    name = draw(st.none() | st.sampled_from(sorted(ZONES)))
    offset = ZONES[name] if name else draw(st.integers(-12 * 4, 14 * 4)) * 15
    local = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    lang = draw(st.sampled_from(sorted(MONTHS)))
    month = MONTHS[lang].split()[local.month - 1]
    weekday = WEEKDAYS[lang].split()[local.weekday()] + ","
    twelve = draw(st.booleans())
    zone = _zone(offset, name)
    day = local.day
    style = draw(st.sampled_from(["day month year", "month day, year", "y/m/d", "d/m/y big day",
                                  "m/d/y big day"]))
    clock = _clock(local, twelve)
    if style == "day month year":
        text = f"{weekday} {day} {month} {local.year} {clock} {zone}"
    elif style == "month day, year":
        text = f"{weekday} {month} {day}, {local.year} {clock} {zone}"
    elif style == "y/m/d":
        sep = draw(st.sampled_from("/.-"))
        text = f"{local.year}{sep}{local.month}{sep}{day:0{draw(st.sampled_from((1, 2)))}d} {clock} {zone}"
    else:  # year last: only a day above 12 says which field is which
        local = local.replace(day=draw(st.integers(13, 28)))
        first, second = (local.day, local.month) if style.startswith("d/") else (local.month, local.day)
        sep = draw(st.sampled_from("/.-"))
        text = f"{first}{sep}{second}{sep}{local.year} {clock} {zone}"
    return text, local.astimezone(UTC)


@settings(max_examples=400, deadline=None)
@given(written_dates())
def test_round_trip(case: tuple[str, datetime]) -> None:
    text, expected = case
    assert read_date(text) == expected, text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_reads_as_a_date_or_none_without_error(text: str) -> None:
    result = read_date(text)
    assert result is None or result.tzinfo is not None


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1971, 2099))
def test_day_and_month_both_twelve_or_under_stay_unread(a: int, b: int, year: int) -> None:
    text = f"{a:02d}/{b:02d}/{year}"
    assert (read_date(text) is None) == (a != b)


# --- end to end -------------------------------------------------------------------------


def test_a_run_publishes_such_dates_right_and_reports_the_rest(project: Project, server: FeedServer) -> None:
    dates = ["2020/1/10 14:33:00", "Dec 16 2023 02:02:33 PM", "mer, 16 nov 2022 00:38:15 +0100",
             "10/01/2020 09:00"]
    items = "".join(
        f"<item><title>Story {n}</title><link>https://example.com/{n}</link>"
        f"<pubDate>{d}</pubDate></item>" for n, d in enumerate(dates))
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Dated</title>'
            f"<link>https://example.com/</link>{items}</channel></rss>")
    server.add("/dated.rss", body)
    project.write_sources([{"id": "dated", "title": "Dated", "url": server.url("/dated.rss")}])
    code, out, err = run_cli(project.root, "run")
    assert code == 0, err
    assert "1 date could not be read, e.g. '10/01/2020 09:00'" in out
    published = {e.title: e.published_parsed[:6] for e in parsed(project.public / "all.atom").entries}
    assert published["Story 0"] == (2020, 1, 10, 14, 33, 0)
    assert published["Story 1"] == (2023, 12, 16, 14, 2, 33)
    assert published["Story 2"] == (2022, 11, 15, 23, 38, 15)
    code, out, _ = run_cli(project.root, "status", "--json")
    [row] = [r for r in json.loads(out)["sources"] if r["id"] == "dated"]
    assert row["unreadable_dates"] == 1
    assert "1 date could not be read" in row["note"]
