"""WebSub publisher pings: tell a hub which of our feeds changed.

A hub (https://www.w3.org/TR/websub/) fetches the feed again and pushes it
to subscribers, so readers see new entries without polling. The ping is a
courtesy: the files are already published, so a failed ping is reported and
never stops a run; the next change pings again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

# Hubs throttle publishers; a few requests at once is plenty for a run's feeds.
CONCURRENCY = 4
_BODY_EXCERPT = 200


def _detail(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).rstrip(".")


async def _ping_one(client: httpx.AsyncClient, hub_url: str, topic_url: str,
                    gate: asyncio.Semaphore) -> str | None:
    async with gate:
        try:
            # The spec's publish ping (used by Google's and Superfeedr's hubs):
            # one form-encoded POST per topic.
            response = await client.post(hub_url, data={"hub.mode": "publish", "hub.url": topic_url})
        except httpx.TimeoutException as exc:
            return (f"WebSub hub {hub_url} did not answer in time to the ping for {topic_url} "
                    f"({type(exc).__name__}).")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # Checked before the network error below, which it is a case of:
            # this one is a config mistake, and the message should say so.
            return (f"Cannot ping WebSub hub {hub_url} for {topic_url}: the hub address is not "
                    f"a usable http(s) URL ({_detail(exc)}).")
        except httpx.HTTPError as exc:
            return f"Could not reach WebSub hub {hub_url} to ping it for {topic_url}: {_detail(exc)}."
    if response.is_success:  # hubs answer 204, some 200 or 202
        return None
    body = " ".join(response.text.split())[:_BODY_EXCERPT]
    said = f": {body}" if body else ""
    return (f"WebSub hub {hub_url} refused the ping for {topic_url} with HTTP "
            f"{response.status_code} {response.reason_phrase}{said}.")


async def ping_hub(client: httpx.AsyncClient, hub_url: str, topic_urls: Sequence[str]) -> list[str]:
    """POST ``hub.mode=publish&hub.url=<topic>`` to the hub for each topic URL.

    Returns one sentence per failed ping, naming the hub and the topic, in the
    order of ``topic_urls`` (empty if every ping succeeded). Network errors,
    timeouts and refusals are reported, never raised. Timeouts and redirects
    are the client's settings.
    """
    topics = list(dict.fromkeys(topic_urls))  # one ping per feed, even if listed twice
    gate = asyncio.Semaphore(CONCURRENCY)
    results = await asyncio.gather(*(_ping_one(client, hub_url, t, gate) for t in topics))
    return [r for r in results if r is not None]
