"""Secrets the browser keeps for a moment (a checked voting or stempas code between the
code page and the ballot, a receipt token until the voter has seen it) travel in the session
cookie ENCRYPTED, never in clear.

Flask's session cookie is signed, not encrypted: anyone who sees it (a shared computer, a
proxy log, a browser extension) can base64-decode it. :func:`seal` encrypts with a keystream
of HMAC-SHA256 under a key derived from SECRET_KEY and a random 128-bit nonce (a PRF in
counter mode) and adds an HMAC tag over nonce and ciphertext (encrypt-then-MAC), so a sealed
value reveals nothing and cannot be altered. Standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app

_NONCE = 16
_TAG = 16


def _keys() -> tuple[bytes, bytes]:
    secret = current_app.config["SECRET_KEY"].encode()
    return (
        hmac.new(secret, b"buurtbudget sealed: encrypt", hashlib.sha256).digest(),
        hmac.new(secret, b"buurtbudget sealed: authenticate", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(
        hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range(blocks)
    )[:length]


def seal(text: str) -> str:
    encrypt_key, mac_key = _keys()
    nonce = secrets.token_bytes(_NONCE)
    plain = text.encode()
    cipher = bytes(
        a ^ b for a, b in zip(plain, _keystream(encrypt_key, nonce, len(plain)), strict=True)
    )
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(nonce + tag + cipher).decode()


def unseal(sealed: str | None) -> str | None:
    """The text, or None when ``sealed`` is missing, altered or sealed under another key."""
    if not sealed or not isinstance(sealed, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
    except (ValueError, TypeError):
        return None
    if len(raw) < _NONCE + _TAG:
        return None
    nonce, tag, cipher = raw[:_NONCE], raw[_NONCE : _NONCE + _TAG], raw[_NONCE + _TAG :]
    encrypt_key, mac_key = _keys()
    expected = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:_TAG]
    if not hmac.compare_digest(tag, expected):
        return None
    stream = _keystream(encrypt_key, nonce, len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()
