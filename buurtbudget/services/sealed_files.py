"""Files that only one person can read: the letters of cheques issued by a background job hold
the new codes in clear, so the job writes them ENCRYPTED to a public key whose private half
only the staff member who asked for them has (sealed in their session, web/sealed.py).

The scheme (ECIES-like, with the maintained ``cryptography`` library): the writer makes an
ephemeral X25519 key pair, agrees a secret with the recipient's public key and derives an
AES-256-GCM key from it with HKDF-SHA256 (salt: both public keys). The file is a header (magic,
the ephemeral public key) and chunks of at most CHUNK bytes of plain text, each sealed with a
nonce of its number and a flag for the last chunk (the STREAM construction), with the header as
associated data: a chunk cannot be altered, dropped, reordered or the file cut short without
the reader noticing. Memory stays flat whatever the file's size."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from buurtbudget.services.whole_files import written_whole

MAGIC = b"BBSEAL1\n"
CHUNK = 64 * 1024
_KEY = 32
_TAG = 16
_INFO = b"buurtbudget sealed file v1"
_RAW = serialization.Encoding.Raw


class SealedFileError(Exception):
    """The file is not one of ours, was altered or cut short, or the key is not its key."""


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw 32-byte (private, public)."""
    private = X25519PrivateKey.generate()
    return (
        private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
        private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw),
    )


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=_KEY, salt=ephemeral + recipient, info=_INFO
    ).derive(shared)
    return AESGCM(key)


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class SealingWriter(io.RawIOBase):
    """A binary file-like object that writes what it is given, encrypted, to ``out``."""

    def __init__(self, out: io.BufferedIOBase, recipient_public_key: bytes):
        super().__init__()
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public_key))
        self._aead = _derive(shared, ephemeral_public, recipient_public_key)
        self._header = MAGIC + ephemeral_public
        self._out, self._buffer, self._number = out, bytearray(), 0
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._number, last), plain, self._header)
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._number += 1

    def write(self, data) -> int:
        """Seals each full chunk once more data follows it (the last one waits for close),
        without copying a large ``data`` (a whole PDF) as a whole."""
        view = memoryview(data).cast("B")
        size = len(view)
        if self._buffer:
            take = min(CHUNK - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(view):  # the buffer is full and more follows
                self._seal(bytes(self._buffer), last=False)
                self._buffer.clear()
        while len(view) > CHUNK:
            self._seal(bytes(view[:CHUNK]), last=False)
            view = view[CHUNK:]
        self._buffer += view
        return size

    def close(self) -> None:
        """Seal the last chunk (it may be empty): without it a reader takes the file as cut
        short."""
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._out.flush()
        super().close()


def write_sealed(path: Path, recipient_public_key: bytes, fill) -> None:
    """Write ``path`` sealed to the key: ``fill(writer)`` writes the plain bytes to the writer.
    The file appears whole or not at all (services/whole_files.py), whatever fails, ``fill``
    included."""
    with written_whole(path) as out:
        writer = SealingWriter(out, recipient_public_key)
        fill(writer)
        writer.close()


def read_sealed(path: Path, private_key: bytes) -> Iterator[bytes]:
    """The plain bytes of a sealed file, chunk by chunk; raises SealedFileError (possibly after
    some chunks, for a file cut short) when it is not intact or not sealed to this key."""
    with path.open("rb") as file:
        header = file.read(len(MAGIC) + 32)
        if len(header) != len(MAGIC) + 32 or not header.startswith(MAGIC):
            raise SealedFileError("not a sealed file")
        ephemeral_public = header[len(MAGIC) :]
        try:
            private = X25519PrivateKey.from_private_bytes(private_key)
            recipient = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
            shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        except ValueError as error:
            raise SealedFileError("bad key") from error
        aead = _derive(shared, ephemeral_public, recipient)
        number = 0
        while True:
            size = file.read(4)
            if len(size) != 4:
                raise SealedFileError("the file is cut short")
            length = int.from_bytes(size, "big")
            if not _TAG <= length <= CHUNK + _TAG:
                raise SealedFileError("bad chunk length")
            sealed = file.read(length)
            if len(sealed) != length:
                raise SealedFileError("the file is cut short")
            try:
                plain = aead.decrypt(_nonce(number, False), sealed, header)
                last = False
            except InvalidTag:
                try:
                    plain = aead.decrypt(_nonce(number, True), sealed, header)
                except InvalidTag as error:
                    raise SealedFileError("altered, or another key") from error
                last = True
            number += 1
            if plain:
                yield plain
            if last:
                if file.read(1):
                    raise SealedFileError("data after the last chunk")
                return
