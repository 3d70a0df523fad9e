"""atheris harness: feeds.config.load_config on mutated config/feeds.toml and config/sources.toml.

Run by fuzz/run.py (`make fuzz`); by hand:
    .venv/bin/python fuzz/fuzz_config.py CORPUS_DIR -max_total_time=60
"""

from _harness import main

if __name__ == "__main__":
    main("config")
