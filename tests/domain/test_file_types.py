"""Uploads are recognised by their first bytes, not by name or declared type."""

import pytest

from buurtbudget.domain.file_types import JPEG, PDF, PNG, WEBP, sniff_file_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"%PDF-1.7\n%", PDF),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # a RIFF file, but audio
        (b"GIF89a", None),
        (b"<svg xmlns=", None),
        (b"<html><script>", None),
        (b"MZ\x90\x00", None),
        (b"", None),
        (b"\x89PNG", None),  # truncated signature
    ],
)
def test_sniff_file_type(head, expected):
    assert sniff_file_type(head) is expected
