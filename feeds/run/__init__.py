"""Run: one run of the pipeline, the daemon, and what keeps runs apart.

``pipeline.run_once`` wires the stages (fetch, parse in worker processes, store,
cluster, publish); ``schedule`` is the daemon's apscheduler; ``lock`` keeps two
runs apart; ``metrics`` serves the daemon's Prometheus endpoint.

May import: every sub-package but ``feeds.cli``.
"""
