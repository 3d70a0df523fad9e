"""atheris harness: feeds.stories.sanitize.sanitize_html (first byte: the base URL): nothing active survives.

Run by fuzz/run.py (`make fuzz`); by hand:
    .venv/bin/python fuzz/fuzz_sanitize.py CORPUS_DIR -max_total_time=60
"""

from _harness import main

if __name__ == "__main__":
    main("sanitize")
