"""feeds: an RSS/Atom aggregator that publishes deduplicated topic feeds."""

__version__ = "0.1.0"
