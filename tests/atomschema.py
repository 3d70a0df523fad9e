"""Validate Atom documents against RFC 4287: its RELAX NG grammar and the
Schematron assertions the RFC embeds in it (which RELAX NG validators skip)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

SCHEMA = Path(__file__).parent / "data" / "atom.rng"
_SCH = "http://www.ascc.net/xml/schematron"
_NS = {"atom": "http://www.w3.org/2005/Atom", "xhtml": "http://www.w3.org/1999/xhtml"}


@cache
def _schema() -> tuple[etree.RelaxNG, tuple[tuple[str, str, str], ...]]:
    tree = etree.parse(str(SCHEMA))
    rules = []
    for rule in tree.iter(f"{{{_SCH}}}rule"):
        context = rule.get("context") or ""
        for assertion in rule.iter(f"{{{_SCH}}}assert"):
            rules.append((context, assertion.get("test") or "", (assertion.text or "").strip()))
    return etree.RelaxNG(tree), tuple(rules)


def atom_errors(data: bytes) -> list[str]:
    """Every way ``data`` breaks RFC 4287; empty if it is valid."""
    schema, rules = _schema()
    doc = etree.fromstring(data)
    errors = [] if schema.validate(doc) else [str(e) for e in schema.error_log]
    for context, test, message in rules:
        path = context if context.startswith("/") else "//" + context
        nodes = doc.xpath(path, namespaces=_NS)
        assert isinstance(nodes, list)
        for node in nodes:
            assert isinstance(node, etree._Element)
            if not node.xpath(f"boolean({test})", namespaces=_NS):
                errors.append(f"{context}: {message}")
    return errors
