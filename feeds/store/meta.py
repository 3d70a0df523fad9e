"""Small facts (``meta``): the generation counter of published changes, what the
outputs were made from, and what each feed says about itself."""

from __future__ import annotations

from feeds.store.connection import Connection
from feeds.stories import sourceinfo
from feeds.stories.sourceinfo import FeedInfo


class MetaStore(Connection):
    """The ``meta`` table."""

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def touch(self) -> None:
        """Count a change to something the outputs show (entries, topics, clusters,
        health events). Call inside ``transaction()``: the change and the count
        commit together, so a crash before publishing still leaves outputs marked
        as stale."""
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    # A feed's own title and site link live in ``meta`` under ``feed:<source id>``
    # (no schema change: they are a few small facts per source).

    def save_feed_info(self, source_id: str, info: FeedInfo) -> None:
        """Remember what a source's feed says about itself; call inside
        ``transaction()``. A change counts as a change to the outputs (``touch``):
        they show the title and link."""
        key, value = f"feed:{source_id}", sourceinfo.encode(info)
        if self.get_meta(key) != value:
            self.set_meta(key, value)
            self.touch()

    def feed_infos(self) -> dict[str, FeedInfo]:
        """Source id → what its feed last said about itself."""
        rows = self.db.execute("SELECT key, value FROM meta WHERE key >= 'feed:' AND key < 'feed;'")
        return {str(k)[len("feed:"):]: sourceinfo.decode(str(v)) for k, v in rows}
