"""Two workers storing copies of one story at the same moment, on PostgreSQL.

Under READ COMMITTED each transaction would miss the other's uncommitted copy: two
entries for one URL, or two clusters for one story. ``Store.lock_stories`` (advisory
locks on URL identities and sketch bands) makes the second wait for the first. The
race is forced, not hoped for: each writer waits at a barrier right after the step
that must see the other's copy (its lookup, or its candidate search), so without the
locks both pass that step before either commits; with them the second is held back
at its lock, the first's wait runs out, and the first commits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from helpers import NOW, make_entry

from feeds.run.ingest import Ingest
from feeds.run.storing import Topics, store_outcome, topics_function
from feeds.store import postgres
from feeds.store.clusters import Candidate
from feeds.store.postgres import PgStore, story_lock_keys
from feeds.stories.classify import Classifier
from feeds.stories.dedupe import Known
from feeds.types import Config, Document, Entry, Settings, Source

_WAIT = 2.0  # how long a writer waits at the barrier for the other (seconds)

_SUMMARY = ("Quarrel Robotics, a startup working on warehouse robots, said on Tuesday it had raised "
            "$40 million. The company plans to use the money to hire engineers and expand into "
            "Europe. Existing investors also took part in the round.")


class _Racing(PgStore):
    """A store that waits for the other writer after ``step``."""

    def __init__(self, url: str, barrier: threading.Barrier, step: str) -> None:
        super().__init__(url)
        self._barrier, self._step = barrier, step

    def _meet(self) -> None:
        # broken: the other writer is held at its lock (or already done)
        with contextlib.suppress(threading.BrokenBarrierError):
            self._barrier.wait(timeout=_WAIT)

    def lookup(self, source_id: str, entries: Sequence[Entry]
               ) -> tuple[dict[str, Known], dict[str, Known], dict[str, Known]]:
        found = super().lookup(source_id, entries)
        if self._step == "lookup":
            self._meet()
        return found

    def cluster_candidates(self, entry_id: str, entry: Entry, since: datetime, until: datetime,
                           min_bands: int = 2, most: int = 32) -> list[Candidate]:
        found = super().cluster_candidates(entry_id, entry, since, until, min_bands, most)
        if self._step == "candidates":
            self._meet()
        return found


def _race(url: str, tmp_path: Any, step: str, copies: dict[str, Entry]) -> None:
    sources = tuple(Source(sid, sid.upper(), url=f"https://{sid}.test/feed") for sid in copies)
    config = Config(root=tmp_path, settings=Settings(title="t", base_url="https://x.test/"),
                    sources=sources, topics=())
    classifier = Classifier((), sources)
    topics = Topics(topics_function(config, classifier), classifier.carrying_matters)
    start = threading.Barrier(len(copies))
    meet = threading.Barrier(len(copies))
    errors: list[BaseException] = []

    def write(source: Source) -> None:
        try:
            with _Racing(url, meet, step) as store:
                document = Document(source.id, source.url or "", b"<rss/>", {})
                start.wait(timeout=10)
                store_outcome(config, store, topics, source, document, NOW, 0.5,
                              ingested=Ingest(entries=[copies[source.id]]))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def _copy(source_id: str, link: str, title: str) -> Entry:
    return make_entry(source_id=source_id, item_key=f"guid:{source_id}", url_key=link, link=link,
                      title=title, summary_text=_SUMMARY, published=NOW)


def test_two_workers_storing_one_url_at_once_make_one_entry(pg_url: str, tmp_path: Any) -> None:
    title = "Quarrel Robotics raises $40 million to build warehouse robots"
    _race(pg_url, tmp_path, "lookup", {"a": _copy("a", "//news.test/quarrel", title),
                                       "b": _copy("b", "//news.test/quarrel", title)})
    with PgStore(pg_url) as store:
        assert store.count_entries() == 1
        (eid,) = [eid for eid, _entry in store.entries_of_sources(["a", "b"])]
        assert store.carriers(eid) == {"a", "b"}


def test_two_workers_storing_near_copies_at_once_make_one_cluster(pg_url: str, tmp_path: Any) -> None:
    _race(pg_url, tmp_path, "candidates", {
        "a": _copy("a", "//a.test/1", "Quarrel Robotics raises $40 million to build warehouse robots"),
        "b": _copy("b", "//b.test/9", "Quarrel Robotics raises $40 million for warehouse robots")})
    with PgStore(pg_url) as store:
        assert store.count_entries() == 2
        ids = [eid for eid, _entry in store.entries_of_sources(["a", "b"])]
        cluster = store.cluster_of(ids[0])
        assert cluster is not None and {m.id for m in cluster.members} == set(ids)


def test_lock_keys_are_sorted_shared_by_copies_and_kept_apart_by_schema() -> None:
    a = _copy("a", "//a.test/1", "Quarrel Robotics raises $40 million to build warehouse robots")
    b = _copy("b", "//b.test/9", "Quarrel Robotics raises $40 million for warehouse robots")
    keys = story_lock_keys("s1", [a, a])
    assert keys == sorted(set(keys)) and len(keys) > 1
    assert set(keys) & set(story_lock_keys("s1", [b]))  # a near copy shares a band
    assert not set(keys) & set(story_lock_keys("s2", [a]))


@pytest.mark.parametrize("n", [1, 40])
def test_many_entries_take_the_schema_lock_instead(pg_url: str, n: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "STORY_LOCKS_MOST", 50)
    entries = [_copy("a", f"//a.test/{i}", f"Story number {i} about warehouse robots {i * 7}")
               for i in range(n)]
    with PgStore(pg_url) as store, store.transaction():
        store.lock_stories(entries)
        held = store.db.conn.execute(
            "SELECT mode, count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_backend_pid() GROUP BY mode ORDER BY mode").fetchall()
    assert len(story_lock_keys(store._schema, entries)) > 50 or n == 1
    if n == 1:
        assert dict(held)["ExclusiveLock"] == len(story_lock_keys(store._schema, entries))
        assert dict(held)["ShareLock"] == 1
    else:
        assert held == [("ExclusiveLock", 1)]
