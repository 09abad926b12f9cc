"""Recognising uploaded files by their first bytes ("magic numbers").

The browser's Content-Type and the file name are chosen by the sender, so they prove nothing.
We only accept four formats, each with a fixed signature in its first 12 bytes; checking
those is a few lines, so this needs no imaging library (Pillow is not a dependency) and no
libmagic system package.
"""

from __future__ import annotations

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
