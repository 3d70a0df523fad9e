"""``feeds init``: the files of a new project, a short commented config that
``feeds check`` accepts as it is, and the steps that follow."""

from __future__ import annotations

from pathlib import Path

from feeds.config import FEEDS_FILE, SOURCES_FILE

FEEDS_TOML = """\
# feeds configuration. Paths are relative to the project folder (feeds --root).
# `feeds check` validates this file; `feeds check --reference` lists every key.

[site]
title = "My Feeds"
description = "News by topic, deduplicated."
# The public address of the output folder: ids, self links and article links
# use it. Set it before subscribers arrive: it is written into every feed.
base_url = "https://feeds.example.org/"
author = "My Feeds"
language = "en"
output_dir = "public"      # what a web server publishes
state_path = "var/state.db"
max_entries = 50           # entries in each published feed
retention_days = 90        # counted from when an entry was first seen

[fetch]
concurrency = 8            # requests at once
total_timeout = 60         # seconds for one source, whatever happens
user_agent = "feeds (topic feed aggregator; +https://feeds.example.org/)"

# Topics. An entry joins a topic when its title, summary or categories match
# one of the `keywords` (whole words and phrases; capitals count: "AI" does not
# match "Ai"). `require` asks for one more word besides, `exclude` keeps an entry
# out. `feeds explain URL` says why an entry is or is not in a topic, and
# `feeds topics preview` what each topic would hold.

[topics.ai]
title = "AI"
description = "Artificial intelligence: models, research and their effects."
keywords = ["AI", "artificial intelligence", "machine learning", "language model", "LLM"]
exclude = ["Ai Weiwei"]

[topics.security]
title = "Security"
description = "Vulnerabilities, breaches and the people who find them."
keywords = ["vulnerability", "exploit", "ransomware", "malware", "breach", "zero-day", "CVE"]
"""

SOURCES_TOML = """\
# The sources feeds reads: one [[sources]] table each.
#   id       short name: lower-case letters, digits, '-' or '_' (unique)
#   title    shown in the outputs
#   url      an RSS, Atom or JSON feed     } exactly one of these two
#   path     a folder of local articles    } (relative to the project folder)
#   topics   topics every entry of this source belongs to, besides those its
#            words match (see [topics] in feeds.toml)
#   enabled  false keeps a source without fetching it
# `feeds sources add URL` finds a site's feed and appends it here;
# `feeds sources import subscriptions.opml` brings a reader's list.

# Local articles: plain text, Markdown or HTML files put in seeds/.
[[sources]]
id = "seeds"
title = "Local articles"
path = "seeds"

[[sources]]
id = "krebs"
title = "Krebs on Security"
url = "https://krebsonsecurity.com/feed/"
topics = ["security"]

[[sources]]
id = "bair"
title = "Berkeley AI Research Blog"
url = "https://bair.berkeley.edu/blog/feed.xml"
topics = ["ai"]
"""

NEXT_STEPS = """\
Next steps:
  1. Edit {config}/feeds.toml (base_url, topics) and {config}/sources.toml (your feeds).
  2. feeds{root} check        validate the config, without the network
  3. feeds{root} run          fetch and publish into {public}/
  4. feeds{root} serve        preview the site at http://127.0.0.1:8000/
  Then run `feeds{root} -q run` from cron, or `feeds{root} daemon` under systemd
  (see "Running from cron" in the feeds README).
"""


def existing_config(root: Path) -> list[Path]:
    """The config files of ``root`` that an init would overwrite."""
    return [root / rel for rel in (FEEDS_FILE, SOURCES_FILE) if (root / rel).exists()]


def create_project(root: Path) -> list[Path]:
    """Write the config files and make the folders of a new project; return what was
    made. The caller has checked that no config file is there."""
    made: list[Path] = []
    (root / FEEDS_FILE).parent.mkdir(parents=True, exist_ok=True)
    for rel, text in ((FEEDS_FILE, FEEDS_TOML), (SOURCES_FILE, SOURCES_TOML)):
        path = root / rel
        # "x": never replace a file that appeared since the check.
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
        made.append(path)
    seeds = root / "seeds"
    if not seeds.exists():
        seeds.mkdir()
        made.append(seeds)
    return made


def next_steps(root: Path, *, given: bool) -> str:
    shown = f" --root {root}" if given else ""
    return NEXT_STEPS.format(config=root / "config", public=root / "public", root=shown)
