"""Stories with several copies: which copy is published, and who else covered it.

Pure. A cluster's published id is fixed when it is first published; the copy
shown is the one from the source with the highest ``priority``, then the one
seen first. When a better copy arrives later, the text changes and ``updated``
moves, but the id stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from html import escape

from feeds.publish.emit import Item, Related
from feeds.store.state import Cluster, Member
from feeds.types import Source


def representative(cluster: Cluster, sources: Mapping[str, Source]) -> Member:
    def rank(m: Member) -> tuple[int, float, bool, str]:
        source = sources.get(m.entry.source_id)
        # Ties go to the copy that named the cluster: what subscribers saw first.
        return (-(source.priority if source else 0), m.first_seen.timestamp(), m.id != cluster.id, m.id)

    return min(cluster.members, key=rank)


def credits(cluster: Cluster, shown: Member, sources: Mapping[str, Source]) -> tuple[Related, ...]:
    """The other sources that carried the story, each once, with their copy's link."""
    seen = {shown.entry.source_id}
    out: list[Related] = []
    for m in cluster.members:
        for source_id in (m.entry.source_id, *m.carriers):
            if source_id in seen:
                continue
            seen.add(source_id)
            source = sources.get(source_id)
            out.append(Related(source.title if source else source_id, m.entry.link))
    return tuple(out)


def cluster_item(cluster: Cluster, sources: Mapping[str, Source]) -> Item:
    shown = representative(cluster, sources)
    entry = shown.entry
    updated = max(m.entry.updated for m in cluster.members)
    if shown is not cluster.members[0]:
        # A better copy replaced the first one: that is news to subscribers.
        updated = max(updated, shown.first_seen)
    topics = {t.topic: t for m in cluster.members for t in m.entry.topics}
    related = credits(cluster, shown, sources)
    content = entry.content_html
    if related:
        listed = ", ".join(
            f'<a href="{escape(r.url)}">{escape(r.title)}</a>' if r.url else escape(r.title)
            for r in related)
        note = f"<p><em>Also covered by: {listed}.</em></p>"
        content = f"{content or entry.summary_html}\n{note}"
    entry = replace(entry, updated=max(updated, entry.published), content_html=content,
                    topics=tuple(topics.values()))
    source = sources.get(shown.entry.source_id)
    return Item(id=cluster.id, entry=entry,
                source_title=source.title if source else shown.entry.source_id,
                source_url=source.url if source else None, related=related)
