"""atheris harness: a local article (first byte: its kind) into parse_article, then normalize.

Run by fuzz/run.py (`make fuzz`); by hand:
    .venv/bin/python fuzz/fuzz_articles.py CORPUS_DIR -max_total_time=60
"""

from _harness import main

if __name__ == "__main__":
    main("articles")
