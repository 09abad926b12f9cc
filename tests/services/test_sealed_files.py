"""Sealed files (services/sealed_files.py): what a cheque job writes can be read back only with
the private key of the public key it was sealed to, whole and unaltered; a file cut short, with
a chunk changed, dropped or moved, or opened with another key, is refused."""

from __future__ import annotations

import os

import pytest

from buurtbudget.services.sealed_files import (
    CHUNK,
    MAGIC,
    SealedFileError,
    new_key_pair,
    read_sealed,
    write_sealed,
)


def _write(path, public, data: bytes, pieces: int = 7) -> None:
    def fill(out):
        step = max(1, len(data) // pieces)
        for start in range(0, len(data), step):
            out.write(data[start : start + step])

    write_sealed(path, public, fill)


def _chunks(raw: bytes) -> tuple[bytes, list[bytes]]:
    header, rest, chunks = raw[: len(MAGIC) + 32], raw[len(MAGIC) + 32 :], []
    while rest:
        length = int.from_bytes(rest[:4], "big")
        chunks.append(rest[: 4 + length])
        rest = rest[4 + length :]
    return header, chunks


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_what_is_sealed_reads_back_whole_with_the_private_key(tmp_path, size):
    private, public = new_key_pair()
    data = os.urandom(size)
    path = tmp_path / "letters.sealed"
    _write(path, public, data)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC) and (size < 64 or data[:64] not in raw)
    assert b"".join(read_sealed(path, private)) == data
    assert not list(tmp_path.glob("*.partial"))


def test_no_plain_text_is_on_disk(tmp_path):
    private, public = new_key_pair()
    path = tmp_path / "letters.sealed"
    text = b"7KQ2-M9XH-4TD0-PB3R-6;http://localhost/budgets/cheques/redeem?code=7KQ2M9XH\n" * 5000
    _write(path, public, text)
    raw = path.read_bytes()
    assert b"7KQ2" not in raw and b"redeem" not in raw
    assert b"".join(read_sealed(path, private)) == text


def test_another_key_opens_nothing(tmp_path):
    _, public = new_key_pair()
    other, _ = new_key_pair()
    path = tmp_path / "letters.sealed"
    _write(path, public, b"x" * 1000)
    with pytest.raises(SealedFileError):
        list(read_sealed(path, other))


def test_a_file_cut_short_altered_or_reordered_is_refused(tmp_path):
    private, public = new_key_pair()
    path = tmp_path / "letters.sealed"
    _write(path, public, os.urandom(3 * CHUNK + 100))
    header, chunks = _chunks(path.read_bytes())
    assert len(chunks) == 4
    bad = {
        "without its last chunk": header + b"".join(chunks[:-1]),
        "cut inside a chunk": header + b"".join(chunks)[:-10],
        "two chunks swapped": header + chunks[1] + chunks[0] + chunks[2] + chunks[3],
        "a chunk dropped": header + chunks[0] + chunks[2] + chunks[3],
        "one bit changed": header
        + chunks[0][:50]
        + bytes([chunks[0][50] ^ 1])
        + chunks[0][51:]
        + b"".join(chunks[1:]),
        "data after the end": header + b"".join(chunks) + chunks[-1],
        "another header": MAGIC + os.urandom(32) + b"".join(chunks),
    }
    for name, raw in bad.items():
        path.write_bytes(raw)
        try:
            list(read_sealed(path, private))
        except SealedFileError:
            continue
        pytest.fail(f"read a file {name}")


def test_a_failing_writer_leaves_no_file(tmp_path):
    _, public = new_key_pair()
    path = tmp_path / "letters.sealed"

    def fill(out):
        out.write(b"x" * (2 * CHUNK))
        raise OSError("the disk is full")

    with pytest.raises(OSError, match="disk is full"):
        write_sealed(path, public, fill)
    assert list(tmp_path.iterdir()) == []
