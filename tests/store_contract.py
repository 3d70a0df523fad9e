"""The behaviour every store backend must have: a suite of tests parametrised by a
store factory. A backend's test module subclasses ``StoreContract`` and provides the
``make_store`` fixture (a callable that opens the same store each time it is called);
``tests/test_store_contract.py`` does so for the SQLite store.

The tests speak only through ``StoreProtocol``, the interface the rest of the
package uses, so that they say what a backend owes, not how SQLite does it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from helpers import NOW, make_entry

from feeds.errors import StateError
from feeds.store.protocol import StoreProtocol
from feeds.store.rows import Carried, StillSeen, changed_entry, new_entry, retopic
from feeds.stories.dedupe import entry_story, url_identity
from feeds.stories.sourceinfo import FeedInfo
from feeds.types import Entry, HealthEvent, HttpCache, SourceHealth, TopicMatch

StoreFactory = Callable[[], StoreProtocol]

TEXT = ("Regional grid operator says the new interconnector between the two countries "
        "will carry power from the northern wind farms by the end of next winter.")


def by_carriers(entry: Entry, carriers: Any) -> tuple[TopicMatch, ...]:
    """A topic per carrying source other than the entry's own, and one for itself."""
    own = (TopicMatch(f"t-{entry.source_id}", "source default"),)
    return own + tuple(TopicMatch(f"t-{c}", "source default") for c in sorted(carriers))


def story(n: int, source: str = "a", **kw: Any) -> Entry:
    fields: dict[str, Any] = {"source_id": source, "item_key": f"guid:{source}-{n}",
                              "url_key": f"https://{source}.example/{n}",
                              "link": f"https://{source}.example/{n}",
                              "title": f"Story {n} from {source}", "summary_text": f"Summary {n}."}
    fields.update(kw)
    return make_entry(**fields)


class StoreContract:
    """Subclass with a ``make_store`` fixture returning a ``StoreFactory``."""

    @pytest.fixture
    def store(self, make_store: StoreFactory) -> Iterator[StoreProtocol]:
        with make_store() as s:
            yield s

    def insert(self, store: StoreProtocol, entry_id: str, entry: Entry, now: datetime = NOW
               ) -> tuple[tuple[str, Entry], ...]:
        with store.transaction():
            return store.apply(entry.source_id, [new_entry(entry_id, entry)], now).inserted

    # --- meta and the generation counter --------------------------------------------

    def test_meta_round_trip_and_overwrite(self, store: StoreProtocol) -> None:
        assert store.get_meta("k") is None
        with store.transaction():
            store.set_meta("k", "1")
            store.set_meta("k", "two")
        assert store.get_meta("k") == "two"

    def test_generation_counts_touches_and_survives_reopening(
            self, make_store: StoreFactory) -> None:
        with make_store() as store:
            assert store.generation() == 0
            with store.transaction():
                store.touch()
                store.touch()
            assert store.generation() == 2
        with make_store() as store:
            assert store.generation() == 2

    def test_feed_info_changes_count_once(self, store: StoreProtocol) -> None:
        info = FeedInfo("A feed", "https://a.example/")
        with store.transaction():
            store.save_feed_info("a", info)
        with store.transaction():
            store.save_feed_info("a", info)  # the same again: not a change
        assert store.feed_infos() == {"a": info}
        assert store.generation() == 1

    # --- transactions and batches ---------------------------------------------------

    def test_a_transaction_that_fails_leaves_nothing(self, store: StoreProtocol) -> None:
        with pytest.raises(RuntimeError), store.transaction():
            store.set_meta("k", "1")
            self_entry = story(1)
            store.apply("a", [new_entry("e1", self_entry)], NOW)
            raise RuntimeError("boom")
        assert store.get_meta("k") is None
        assert store.count_entries() == 0 and store.generation() == 0
        by_item, _, _ = store.lookup("a", [story(1)])
        assert by_item == {}

    def test_a_batch_keeps_good_transactions_and_drops_failed_ones(
            self, make_store: StoreFactory) -> None:
        with make_store() as store, store.batch(seconds=3600):
            with store.transaction():
                store.set_meta("a", "1")
            with pytest.raises(RuntimeError), store.transaction():
                store.set_meta("b", "1")
                raise RuntimeError("boom")
            store.commit_if_due()  # not due: still one batch
            with store.transaction():
                store.set_meta("c", "1")
        with make_store() as store:
            assert [store.get_meta(k) for k in "abc"] == ["1", None, "1"]

    def test_a_batch_that_fails_is_undone_but_committed_parts_stay(
            self, make_store: StoreFactory) -> None:
        with make_store() as store:
            with pytest.raises(RuntimeError), store.batch(seconds=0):
                with store.transaction():
                    store.set_meta("early", "1")
                store.commit_if_due()  # seconds=0: always due
                with store.transaction():
                    store.set_meta("late", "1")
                raise RuntimeError("boom")
            with store.transaction():
                store.set_meta("after", "1")
        with make_store() as store:
            assert [store.get_meta(k) for k in ("early", "late", "after")] == ["1", None, "1"]

    # --- sources: validators, health, events, days ---------------------------------

    def test_validators_round_trip(self, store: StoreProtocol) -> None:
        assert store.http_cache("a") == HttpCache()
        with store.transaction():
            store.save_cache("a", HttpCache('"v1"', "Tue, 01 Dec 2026 00:00:00 GMT", "h1"))
            store.save_cache("a", HttpCache('"v2"', None, "h2"))
        assert store.http_cache("a") == HttpCache('"v2"', None, "h2")
        assert store.http_cache("b") == HttpCache()

    def test_health_round_trips_every_field(self, store: StoreProtocol) -> None:
        health = SourceHealth(
            "a", state="failing", config_url="https://a.example/feed", last_attempt=NOW,
            last_success=NOW - timedelta(days=1), http_status=503, failures=3, last_error="timeout",
            last_warning="dates", next_due=NOW + timedelta(hours=2),
            redirect_target="https://b.example/feed", redirect_seen=2, redirect_adopted=True,
            entries_seen=12, last_new_entry=NOW - timedelta(days=2), alerted=True, stale=True,
            unreadable_dates=4, failing_since=NOW - timedelta(hours=5))
        with store.transaction():
            store.save_health(health)
        assert store.health("a") == health
        assert store.all_health() == {"a": health}
        assert store.health("unknown") == SourceHealth("unknown")
        assert store.generation() == 0  # no events: nothing the outputs show

    def test_health_events_newest_first_and_counted(self, store: StoreProtocol) -> None:
        events = [HealthEvent("a", NOW + timedelta(minutes=i), "failing", f"m{i}") for i in range(3)]
        with store.transaction():
            store.save_health(SourceHealth("a", state="failing"), events)
        got = store.events(2)
        assert [e for _, e in got] == [events[2], events[1]]
        assert got[0][0] > got[1][0]  # ids grow
        assert store.generation() == 1

    def test_source_days_count_fetches_and_keep_a_window(self, store: StoreProtocol) -> None:
        with store.transaction():
            store.record_fetch("a", NOW, failed=False, new_entries=3, seconds=0.25)
            store.record_fetch("a", NOW, failed=True)
            store.record_fetch("a", NOW, failed=False, seconds=1.0)
            store.record_fetch("b", NOW - timedelta(days=1), failed=False, new_entries=-5)
        days = store.source_days(NOW.date() - timedelta(days=1), NOW.date())
        (a,) = days["a"]
        assert (a.day, a.fetches, a.failures, a.new_entries) == (NOW.date(), 3, 1, 3)
        assert (a.latency_count, a.latency_ms_sum, a.latency_ms_max) == (2, 1250, 1000)
        assert days["b"][0].new_entries == 0  # never negative
        with store.transaction():  # a month later the old days are gone
            store.record_fetch("c", NOW + timedelta(days=40), failed=False)
        assert store.source_days(date(2000, 1, 1), date(2100, 1, 1)).keys() == {"c"}

    # --- entries ----------------------------------------------------------------------

    def test_insert_then_lookup_by_item_url_and_story(self, store: StoreProtocol) -> None:
        entry = story(1)
        assert self.insert(store, "e1", entry) == (("e1", entry),)
        by_item, by_url, by_story = store.lookup("a", [entry])
        known = by_item[entry.item_key]
        assert (known.entry_id, known.source_id, known.content_hash, known.retired) == (
            "e1", "a", entry.content_hash, False)
        assert (known.published, known.updated) == (entry.published, entry.updated)
        assert by_url[entry.url_key or ""].entry_id == "e1"
        assert by_story[entry_story(entry)].entry_id == "e1"
        # another source finds it by URL only
        other = story(1, "b", url_key=entry.url_key)
        by_item, by_url, by_story = store.lookup("b", [other])
        assert by_item == {} and by_story == {}
        assert by_url[entry.url_key or ""].item_key == entry.item_key
        assert store.count_entries() == 1 and store.entry_counts() == {"a": 1}
        assert store.first_seen_times("a", 5) == [NOW]
        assert store.generation() == 1

    def test_update_replaces_the_stored_entry(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1))
        changed = story(1, title="Story 1, corrected", updated=NOW + timedelta(hours=1))
        with store.transaction():
            applied = store.apply("a", [changed_entry("e1", changed)], NOW + timedelta(hours=1))
        assert (applied.new, applied.updated, applied.inserted) == (0, 1, ())
        by_item, _, _ = store.lookup("a", [changed])
        assert by_item[changed.item_key].content_hash == changed.content_hash
        assert store.all_entries() == [("e1", changed, ("a",))]
        assert store.newest_update() == NOW + timedelta(hours=1)

    def test_a_carrier_and_a_remap_then_new_topics(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1))
        copy = story(9, "b", url_key=story(1).url_key)
        with store.transaction():
            applied = store.apply("b", [Carried("e1", copy.item_key, remap="guid:old")], NOW)
            assert store.carriers("e1") == {"a", "b"}  # seen inside the transaction
            stored = store.stored_entry("e1")
            assert stored == story(1)
            store.apply("b", [retopic("e1", replace(stored, topics=by_carriers(stored, ["b"])))], NOW)
        assert applied.inserted == () and store.generation() == 3
        assert store.all_entries()[0][2] == ("a", "b")
        assert store.count_entries() == 1
        assert store.topic_counts() == {"t-a": 1, "t-b": 1}
        assert store.stored_entry("nothing") is None
        count, last = store.remap_count()["b"]
        assert count == 1 and last is not None and "guid:old -> guid:b-9" in last
        by_item, _, _ = store.lookup("b", [copy])
        assert by_item[copy.item_key].entry_id == "e1"

    def test_find_entries_by_id_link_and_url_identity(self, store: StoreProtocol) -> None:
        entry = story(1, url_key=url_identity("https://a.example/1"),
                      link="https://a.example/1?utm_source=x")
        self.insert(store, "e1", entry)
        assert store.find_entries("e1") == ["e1"]
        assert store.find_entries("https://a.example/1?utm_source=x") == ["e1"]
        assert store.find_entries("https://www.a.example/1") == ["e1"]  # same URL identity
        assert store.find_entries("nothing") == []

    def test_mark_gone_counts_entries_the_document_no_longer_holds(self, store: StoreProtocol) -> None:
        for n in (1, 2, 3):
            self.insert(store, f"e{n}", story(n))
        with store.transaction():
            assert store.mark_gone("a", {story(2).item_key}, NOW) == 2
            assert store.mark_gone("a", {story(2).item_key}, NOW) == 0  # already gone

    def test_entries_of_sources_newest_first(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1), NOW)
        self.insert(store, "e2", story(2), NOW + timedelta(minutes=1))
        self.insert(store, "x", story(1, "b"), NOW)
        assert [i for i, _ in store.entries_of_sources(["a"])] == ["e2", "e1"]
        assert store.entries_of_sources([]) == []

    def test_retopic_gives_stored_entries_new_topics(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1))
        self.insert(store, "e2", story(2))
        assert store.topic_counts() == {}
        generation = store.generation()
        rows = [retopic(eid, replace(e, topics=by_carriers(e, ()))) for eid, e, _ in store.all_entries()]
        rows.append(retopic("gone", story(3)))  # purged meanwhile: nothing to do
        assert store.retopic(rows) == 2
        assert store.topic_counts() == {"t-a": 2} and store.generation() == generation + 1
        assert {e.topic_ids for _, e, _ in store.all_entries()} == {("t-a",)}
        assert store.retopic([]) == 0 and store.generation() == generation + 1

    # --- retention and tombstones ----------------------------------------------------

    def test_purge_keeps_a_tombstone_while_the_source_carries_the_item(
            self, store: StoreProtocol) -> None:
        entry = story(1)
        self.insert(store, "e1", entry, NOW)
        later = NOW + timedelta(days=10)
        with store.transaction():
            store.apply("a", [StillSeen("e1", entry.item_key)], later)
        generation = store.generation()
        assert store.purge(NOW + timedelta(days=1)) == 1
        assert store.count_entries() == 0 and store.generation() == generation + 1
        by_item, by_url, _ = store.lookup("a", [entry])
        assert by_item[entry.item_key].retired and by_item[entry.item_key].entry_id == "e1"
        assert by_url == {}
        # once the source stopped carrying it for a retention period, it is forgotten
        assert store.purge(later + timedelta(days=1)) == 0
        assert store.lookup("a", [entry])[0] == {}

    # --- clusters and near-duplicate candidates --------------------------------------

    def test_candidates_share_bands_within_the_window_and_from_other_sources(
            self, store: StoreProtocol) -> None:
        first = story(1, "a", title="Interconnector to carry wind power", summary_text=TEXT)
        self.insert(store, "e1", first)
        same_source = story(2, "a", title=first.title, summary_text=TEXT)
        self.insert(store, "e2", same_source)
        copy = story(3, "b", title=first.title, summary_text=TEXT)
        window = timedelta(days=2)
        found = store.cluster_candidates("e3", copy, copy.published - window, copy.published + window)
        assert [(c.entry_id, c.cluster_id, c.source_id) for c in found] == [
            ("e1", "e1", "a"), ("e2", "e2", "a")]
        assert found[0].title == first.title and found[0].summary_text == TEXT
        far = NOW + timedelta(days=30)
        assert store.cluster_candidates("e3", copy, far - window, far + window) == []
        other = story(4, "b", title="Cup final ends in a draw",
                      summary_text="Both sides scored twice before extra time in the stadium.")
        assert store.cluster_candidates("e4", other, NOW - window, NOW + window) == []
        assert store.cluster_candidates("e3", copy, NOW - window, NOW + window, most=1)[0].entry_id == "e1"

    def test_join_clusters_keeps_the_id_seen_first(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1, "a", topics=(TopicMatch("t", "keyword"),)), NOW)
        self.insert(store, "e2", story(2, "b"), NOW + timedelta(minutes=1))
        self.insert(store, "e3", story(3, "c"), NOW + timedelta(minutes=2))
        with store.transaction():
            assert store.join_clusters("e3", ["e2"], "same text") == "e2"
            assert store.join_clusters("e3", ["e2", "e1"], "same text") == "e1"
        (cluster,) = store.clusters(["e1"])
        assert [m.id for m in cluster.members] == ["e1", "e2", "e3"]
        assert cluster.members[2].reason == "same text"
        cluster_of = store.cluster_of("e3")
        assert cluster_of is not None and cluster_of.id == "e1"
        assert store.cluster_of("nothing") is None
        assert [r[0] for r in store.cluster_rows(["e1"])] == ["e1", "e2", "e3"]
        ids = store.topic_cluster_ids(["t", "u"])
        assert ids == {None: ["e1"], "t": ["e1"], "u": []}

    def test_topic_cluster_ids_newest_cluster_first(self, store: StoreProtocol) -> None:
        for n in range(3):
            self.insert(store, f"e{n}", story(n, topics=(TopicMatch("t", "keyword"),) if n != 1 else ()),
                        NOW + timedelta(minutes=n))
        ids = store.topic_cluster_ids(["t"])
        assert ids == {None: ["e2", "e1", "e0"], "t": ["e2", "e0"]}

    def test_archive_positions_are_given_once_oldest_first_and_kept(self, store: StoreProtocol) -> None:
        t = (TopicMatch("t", "keyword"),)
        for n in range(3):
            self.insert(store, f"e{n}", story(n, topics=t if n != 1 else ()), NOW + timedelta(minutes=n))
        orders = store.archive_positions(store.topic_cluster_ids(["t"]))
        assert {k: (dict(o.positions), o.next) for k, o in orders.items()} == {
            None: ({"e0": 0, "e1": 1, "e2": 2}, 3), "t": ({"e0": 0, "e2": 1}, 2)}
        # Newer stories come after; purged ones leave holes, and their places are
        # never given again.
        for n in (3, 4):
            self.insert(store, f"e{n}", story(n, topics=t), NOW + timedelta(hours=n))
        store.purge(NOW + timedelta(minutes=1, seconds=30))  # e0 and e1
        self.insert(store, "e5", story(5, topics=t), NOW + timedelta(hours=5))
        orders = store.archive_positions(store.topic_cluster_ids(["t"]))
        assert {k: (dict(o.positions), o.next) for k, o in orders.items()} == {
            None: ({"e2": 2, "e3": 3, "e4": 4, "e5": 5}, 6), "t": ({"e2": 1, "e3": 2, "e4": 3, "e5": 4}, 5)}
        # A story that leaves a topic keeps its place there, for when it comes back.
        assert dict(store.archive_positions({"t": ["e5", "e3"]})["t"].positions) == {"e5": 4, "e3": 2}
        assert dict(store.archive_positions({"t": ["e5", "e4", "e3"]})["t"].positions) == {
            "e5": 4, "e4": 3, "e3": 2}
        # A cluster joined to another leaves a hole; the one it joined keeps its place.
        with store.transaction():
            store.join_clusters("e5", ["e3"], "same text")
        orders = store.archive_positions(store.topic_cluster_ids(["t"]))
        assert dict(orders[None].positions) == {"e2": 2, "e3": 3, "e4": 4} and orders[None].next == 6

    def test_cluster_digests_change_with_their_members(self, store: StoreProtocol) -> None:
        self.insert(store, "e1", story(1), NOW)
        self.insert(store, "e2", story(2, "b"), NOW)
        before = store.cluster_digests()
        assert before.keys() == {"e1", "e2"}
        changed = story(1, title="Story 1, corrected")
        with store.transaction():
            store.apply("a", [changed_entry("e1", changed)], NOW)
        after = store.cluster_digests()
        assert after["e1"] != before["e1"] and after["e2"] == before["e2"]
        with store.transaction():  # a new carrier changes what is published too
            store.apply("c", [Carried("e2", story(7, "c").item_key)], NOW)
        assert store.cluster_digests()["e2"] != after["e2"]

    # --- the seal: a database that cannot be used is a StateError ------------------

    def test_every_method_on_a_closed_store_raises_state_error(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.close()
        entry = story(1)
        calls: dict[str, Callable[[], object]] = {
            "get_meta": lambda: store.get_meta("k"),
            "set_meta": lambda: store.set_meta("k", "v"),
            "touch": store.touch,
            "generation": store.generation,
            "save_feed_info": lambda: store.save_feed_info("a", FeedInfo("t")),
            "feed_infos": store.feed_infos,
            "http_cache": lambda: store.http_cache("a"),
            "save_cache": lambda: store.save_cache("a", HttpCache()),
            "health": lambda: store.health("a"),
            "all_health": store.all_health,
            "save_health": lambda: store.save_health(SourceHealth("a")),
            "events": lambda: store.events(3),
            "first_seen_times": lambda: store.first_seen_times("a", 3),
            "entry_counts": store.entry_counts,
            "record_fetch": lambda: store.record_fetch("a", NOW, failed=False),
            "source_days": lambda: store.source_days(NOW.date(), NOW.date()),
            "lookup": lambda: store.lookup("a", [entry]),
            "apply": lambda: store.apply("a", [new_entry("e1", entry)], NOW),
            "retopic": lambda: store.retopic([retopic("e1", entry)]),
            "carriers": lambda: store.carriers("e1"),
            "stored_entry": lambda: store.stored_entry("e1"),
            "mark_gone": lambda: store.mark_gone("a", set(), NOW),
            "purge": lambda: store.purge(NOW),
            "find_entries": lambda: store.find_entries("e1"),
            "entries_of_sources": lambda: store.entries_of_sources(["a"]),
            "all_entries": store.all_entries,
            "remap_count": store.remap_count,
            "newest_update": store.newest_update,
            "topic_counts": store.topic_counts,
            "count_entries": store.count_entries,
            "cluster_candidates": lambda: store.cluster_candidates("e", entry, NOW, NOW),
            "join_clusters": lambda: store.join_clusters("e", ["f"], "r"),
            "topic_cluster_ids": lambda: store.topic_cluster_ids(["t"]),
            "archive_positions": lambda: store.archive_positions({None: ["e"]}),
            "cluster_digests": store.cluster_digests,
            "clusters": lambda: store.clusters(["e"]),
            "cluster_of": lambda: store.cluster_of("e"),
            "cluster_rows": lambda: store.cluster_rows(["e"]),
        }
        for name, call in calls.items():
            with pytest.raises(StateError) as info:
                call()
            assert store.name in str(info.value), name
        for context in (store.transaction, store.batch):
            with pytest.raises(StateError), context():
                pass
