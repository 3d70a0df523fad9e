"""atheris harness: arbitrary bytes into feeds.parse.adapter.parse_document, then normalize on every entry.

Run by fuzz/run.py (`make fuzz`); by hand:
    .venv/bin/python fuzz/fuzz_parse.py CORPUS_DIR -max_total_time=60
"""

from _harness import main

if __name__ == "__main__":
    main("parse")
