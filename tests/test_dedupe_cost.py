"""What adding an entry costs the near-duplicate search, counted rather than timed:
the judge reads few candidates whatever the text looks like (issue #19), and the
screen in front of it never turns away a pair the judge would merge."""

from __future__ import annotations

import random
from datetime import timedelta
from itertools import combinations
from pathlib import Path

import pytest
from helpers import NOW, make_entry, write_actions

from feeds.run.storing import cluster
from feeds.store.state import Store
from feeds.stories.dedupe import Insert, entry_id
from feeds.stories.similar import Thresholds, judge, worth_judging
from feeds.types import Config, Settings

_COMPANIES = [f"{a} {b}" for a in ("Quarrel", "Mistral", "Osprey", "Tundra", "Lantern", "Bellwether",
                                   "Cormorant", "Dovetail", "Fennel", "Gossamer")
              for b in ("Labs", "Robotics", "Cloud", "Bio", "Systems")]
_FIELDS = [f"{a} {b}" for a in ("warehouse", "battery", "satellite", "protein", "grid", "payroll",
                                  "freight", "clinic")
           for b in ("robots", "recycling", "imaging", "design", "storage", "software", "sensors")]


def _flood(n: int, copies: int) -> list[tuple[str, str]]:
    """``n`` funding-round stories from one template (the same boilerplate text), and
    ``copies`` of the first few carried again by another source."""
    rng = random.Random(19)
    stories = []
    for _ in range(n):
        company, field = rng.choice(_COMPANIES), rng.choice(_FIELDS)
        amount = f"${rng.randrange(5, 300)} million"
        title = f"{company} raises {amount} Series {rng.choice('ABC')} to build {field}"
        summary = (f"{company}, a startup working on {field}, said on Tuesday it had raised {amount}. "
                   "The company plans to use the money to hire engineers and expand into Europe. "
                   "Existing investors also took part in the round. The company did not respond to "
                   "a request for comment. Investors have poured money into the sector this year.")
        stories.append((title, summary))
    return stories + stories[:copies]


def test_a_templated_flood_keeps_judge_calls_per_entry_bounded(tmp_path: Path) -> None:
    n, copies = 300, 20
    config = Config(root=tmp_path, settings=Settings(title="t", base_url="https://x.test/"), sources=(),
                    topics=())
    met = judged = 0
    with Store(tmp_path / "s.db") as store:
        for i, (title, summary) in enumerate(_flood(n, copies)):
            source = f"s{i % 7}" if i < n else "copier"
            entry = make_entry(source_id=source, item_key=f"guid:{i}", url_key=f"//{source}.test/{i}",
                               title=title, summary_text=summary, published=NOW - timedelta(minutes=i))
            with store.transaction():
                applied = write_actions(store, source, [Insert(entry_id(source, f"guid:{i}"), entry)], NOW)
                for new_id, new in applied.inserted:
                    c, j = cluster(store, config, new_id, new)
                    met, judged = met + c, judged + j
        merged = store.db.execute("SELECT count(*) FROM entries WHERE source_id = 'copier'"
                                  " AND cluster_id != id").fetchone()[0]
    total = n + copies
    assert merged == copies  # every copy still joins its story
    assert met / total > 5  # the template makes many candidates...
    assert judged / total <= 1.5, (met / total, judged / total)  # ...and the judge reads few of them


@pytest.mark.parametrize("thresholds", [Thresholds(), Thresholds(title=0.4, text=0.3),
                                        Thresholds(title_floor=0.1, lead=0.5)], ids=str)
def test_the_screen_passes_every_pair_the_judge_merges(thresholds: Thresholds) -> None:
    """On the flood's pairs, at other thresholds too (tests/test_clusters.py checks
    the known copies and reworded copies at the defaults)."""
    merged = 0
    for (ta, sa), (tb, sb) in combinations(_flood(60, 10), 2):
        if judge(ta, sa, tb, sb, thresholds).same:
            merged += 1
            assert worth_judging(ta, sa, tb, sb, thresholds), (ta, tb)
    assert merged >= 10
