"""Recognising uploaded files by their first bytes ("magic numbers").

The browser's Content-Type and the file name are chosen by the sender, so they prove nothing.
We only accept four formats, each with a fixed signature in its first 12 bytes; checking
those is a few lines, so this needs no imaging library (Pillow is not a dependency) and no
libmagic system package.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    is_image: bool


PNG = FileType("image/png", "png", True)
JPEG = FileType("image/jpeg", "jpg", True)
WEBP = FileType("image/webp", "webp", True)
PDF = FileType("application/pdf", "pdf", False)
ALLOWED_TYPES = (PNG, JPEG, WEBP, PDF)
BY_CONTENT_TYPE = {t.content_type: t for t in ALLOWED_TYPES}
# Enough bytes for every signature below.
SNIFF_BYTES = 12


def sniff_file_type(head: bytes) -> FileType | None:
    """The type of a file starting with ``head``, or None when it is not an allowed type."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    # RIFF container: "RIFF", 4 bytes of length, then the form type "WEBP".
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


# PDFs: no active content -----------------------------------------------------------------------

# PDF name objects that run code or act when a document is opened or read.
ACTIVE_PDF_NAMES = frozenset({b"/JavaScript", b"/JS", b"/Launch", b"/OpenAction", b"/AA"})
_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
# Enough to read any object stream of an upload of a few MB; more is not a receipt.
MAX_INFLATED_BYTES = 50 * 1024 * 1024


def _names(data: bytes) -> set[bytes]:
    # "/J#61vaScript" is "/JavaScript": PDF names may hide letters as #xx escapes.
    return {_HEX_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), n) for n in _NAME.findall(data)}


def pdf_has_active_content(content: bytes) -> bool:
    """Whether a PDF names JavaScript, launch actions or automatic actions, also inside
    compressed (Flate) object streams."""
    if _names(content) & ACTIVE_PDF_NAMES:
        return True
    budget = MAX_INFLATED_BYTES
    for match in _STREAM.finditer(content):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(match[1], budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        if _names(inflated) & ACTIVE_PDF_NAMES:
            return True
        if budget <= 0:
            return True  # a zip bomb in a receipt: refuse it as well
    return False


def safe_original_name(filename: str, file_type: FileType, fallback: str) -> str:
    """The uploaded name without folders, ending in the extension of what the file really is:
    a PNG named ``page.html`` becomes ``page.png``, so no browser or desktop treats it as
    HTML."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem = name.rsplit(".", 1)[0].strip(" .") if "." in name else name
    stem = stem[:150]
    return f"{stem}.{file_type.extension}" if stem else fallback
