"""Whether a local file is text, and its text. Pure.

A file that is not text (a known binary signature, NUL bytes, bytes that are
neither UTF-8 nor the charset it declares, mostly control characters) or that
starts with a byte-order mark it does not honour raises ``ValueError`` with a
sentence saying why, which the caller reports with the file's name.
"""

from __future__ import annotations

import codecs
import re

# Files that are not text, by their first bytes: what lands in an articles folder
# beside the articles (pictures, the PDF of a story, an archive of them).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"), (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"), (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"\x7fELF", "an executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"), (b"\x00\x00\x01\x00", "an icon"),
)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# <meta charset="...">, <meta http-equiv=... content="...; charset=...">, <?xml encoding="..."?>
_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
# Control characters that text files do not hold (tab, line ends and form feed aside).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _binary_kind(body: bytes) -> str | None:
    for signature, kind in _SIGNATURES:
        if body.startswith(signature):
            return kind
    if body[4:8] == b"ftyp":
        return "a video or audio file"
    if body.startswith(b"RIFF") and body[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "an image, audio or video file"
    return None


def decode_text(body: bytes) -> str:
    """The text of a file, or ``ValueError`` if it is not text: a known binary
    signature, NUL bytes, bytes that are neither UTF-8 nor the charset the file
    declares (Windows-1252 when it declares none), or mostly control characters."""
    kind = _binary_kind(body)
    if kind:
        raise ValueError(f"skipped, not a text file ({kind})")
    for bom, codec in _BOMS:
        if body.startswith(bom):
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                raise ValueError(f"skipped, not text: it starts with a {codec.upper()} mark "
                                 "but is not that encoding") from None
            break
    else:
        if b"\x00" in body:
            raise ValueError("skipped, not a text file (it holds NUL bytes)")
        text = _decode_unmarked(body)
    if "\x00" in text:
        raise ValueError("skipped, not a text file (it holds NUL characters)")
    # A few stray controls are a careless editor (they are removed in normalising);
    # one character in ten is a binary format we do not know.
    controls = len(_CONTROLS.findall(text, 0, 65536))
    if controls >= 3 and controls > min(len(text), 65536) // 10:
        raise ValueError("skipped, not a text file (it is mostly control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_unmarked(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = exc.start
    declared = _DECLARED.search(body[:2048])
    codec = None
    if declared:
        try:
            info = codecs.lookup(declared.group(1).decode("ascii"))
        except LookupError:
            info = None
        # Only text encodings: "hex" or "zlib" are codecs too.
        if info is not None and info._is_text_encoding and info.name != "utf-8":
            codec = info.name
        elif info is not None and info.name == "utf-8":
            raise ValueError(f"skipped, not valid UTF-8 as it declares (byte {where})")
    # Legacy files that declare nothing are most often Windows-1252, which leaves
    # only five bytes undefined.
    codec = codec or "cp1252"
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(f"skipped, not text: neither UTF-8 (byte {where}) nor {codec} "
                         f"(byte {exc.start})") from None
