"""Run: one run of the pipeline, the daemon, and what keeps runs apart.

``pipeline.run_once`` wires the stages: fetch, parse and normalise (``ingest``, in
the worker processes of ``workers``), store and cluster (``storing``), publish
(``feeds.publish.publisher``); ``schedule`` is the daemon's apscheduler; ``lock`` keeps two
runs apart; ``metrics`` serves the daemon's Prometheus endpoint.

May import: every sub-package but ``feeds.cli``.
"""
