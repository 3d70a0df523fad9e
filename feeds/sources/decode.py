"""Content-Encoding decoding with bounded output. Pure: bytes in, bytes out.

A compressed body is a promise about its size that the sender does not have to
keep: 1.6 KB of brotli becomes 1 GiB of zeros. Every decoder here therefore
produces at most ``STEP`` bytes per call into zlib or brotli, and the total is
checked against the limit after each step, so memory stays near ``STEP`` plus
the limit whatever the input. One coding per response: stacked codings
(``gzip, gzip``) multiply the ratio and no feed server needs them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]

STEP = 64 * 1024  # most bytes one decoding step may produce
ACCEPT_ENCODING = "gzip, deflate, br"  # what we ask for: exactly what we can decode
LIMIT_EXTENSION = "feeds.max_bytes"  # the httpx request extension that carries a body's limit


class DecodeError(Exception):
    """The body cannot be decoded: a refused or unknown coding, or corrupt data."""


class TooLarge(Exception):
    """The decoded (or raw) body went past the limit."""

    def __init__(self, limit: int, coded: bool) -> None:
        after = " after decompression" if coded else ""
        super().__init__(f"response exceeds the limit of {limit:,} bytes (max_bytes){after}")
        self.limit = limit


class _Step(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def end(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def end(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (one member; what follows it is ignored, as browsers do) or deflate, which
    servers send both with the zlib wrapper (as RFC 9110 says) and without it."""

    def __init__(self, gzip: bool) -> None:
        self._name = "gzip" if gzip else "deflate"
        self._raw_fallback = not gzip  # deflate: try the zlib wrapper first, then raw
        self._started = False
        self._d = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)

    def _drain(self, data: bytes) -> Iterator[bytes]:
        while True:
            if self._d.eof:
                return
            out = self._d.decompress(data, STEP)
            data = self._d.unconsumed_tail
            if out:
                self._started = True
                yield out
            # A full step may leave output inside zlib even when no input is left.
            if not data and len(out) < STEP:
                return

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._drain(data)
            return
        except zlib.error as exc:
            problem = str(exc)
            if not (self._raw_fallback and not self._started):
                raise DecodeError(f"corrupt {self._name} data: {problem}") from None
        self._raw_fallback = False
        self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            yield from self._drain(data)
        except zlib.error as exc:
            raise DecodeError(f"corrupt {self._name} data: {exc}") from None

    def end(self) -> Iterator[bytes]:
        # Whatever input zlib still holds was fed already; flush() only returns
        # output below one step, since _drain stops only when a step came up short.
        try:
            tail = self._d.flush()
        except zlib.error as exc:
            raise DecodeError(f"corrupt {self._name} data: {exc}") from None
        if tail:
            yield tail


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def _steps(self, data: bytes) -> Iterator[bytes]:
        try:
            if self._d.is_finished():
                return  # bytes after the end of the stream are ignored, as with gzip
            out: bytes = self._d.process(data, output_buffer_limit=STEP)
            # The decoder may hold output back even when it would take more input;
            # empty input asks for it, a step at a time, until none is left.
            while out:
                yield out
                if self._d.is_finished():
                    return
                out = self._d.process(b"", output_buffer_limit=STEP)
        except brotli.error as exc:
            raise DecodeError(f"corrupt brotli data: {exc}") from None

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._steps(data)

    def end(self) -> Iterator[bytes]:
        return self._steps(b"")


def codings(header: str | None) -> list[str]:
    """The content codings a Content-Encoding header lists, lower-cased, identity left out."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    return [n for n in names if n and n != "identity"]


def refusal(header: str | None) -> str | None:
    """Why a body with this Content-Encoding will not be decoded, or None if it will."""
    names = codings(header)
    if len(names) > 1:
        return f"stacked content encodings ({', '.join(names)}) are refused; one coding at most"
    if names and names[0] not in _DECODERS:
        return f"unknown content encoding {names[0]!r} (we accept {ACCEPT_ENCODING})"
    return None


_DECODERS = {"gzip", "x-gzip", "deflate", "br"}


def _decoder(header: str | None) -> _Step:
    problem = refusal(header)
    if problem:
        raise DecodeError(problem)
    names = codings(header)
    name = names[0] if names else "identity"
    if name in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if name == "deflate":
        return _Zlib(gzip=False)
    if name == "br":
        return _Brotli()
    return _Identity()


class BoundedDecoder:
    """Decodes one body by its Content-Encoding, raising ``TooLarge`` as soon as the
    raw or the decoded bytes pass ``limit`` and ``DecodeError`` for a body it will
    not or cannot decode. A refused coding is only an error once a body byte comes:
    an empty body (a redirect, a 304) needs no decoding."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self._header = content_encoding
        self._limit = limit
        self._step: _Step | None = None
        self._raw = 0
        self._out = 0

    def _count(self, piece: bytes) -> bytes:
        self._out += len(piece)
        if self._out > self._limit:
            raise TooLarge(self._limit, bool(codings(self._header)))
        return piece

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._raw += len(data)
        if self._raw > self._limit:
            raise TooLarge(self._limit, bool(codings(self._header)))
        if self._step is None:
            self._step = _decoder(self._header)
        for piece in self._step.feed(data):
            yield self._count(piece)

    def end(self) -> Iterator[bytes]:
        if self._step is not None:
            for piece in self._step.end():
                yield self._count(piece)
