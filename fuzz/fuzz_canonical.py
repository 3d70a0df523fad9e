"""atheris harness: feeds.stories.normalize.canonical_url on url NUL base: valid, idempotent.

Run by fuzz/run.py (`make fuzz`); by hand:
    .venv/bin/python fuzz/fuzz_canonical.py CORPUS_DIR -max_total_time=60
"""

from _harness import main

if __name__ == "__main__":
    main("canonical")
