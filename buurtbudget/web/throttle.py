"""Throttling of guesses: passwords per address and per account, voting codes per address and
per browser session.

The counts live in ``RATELIMIT_STORAGE_URI``: ``memory://`` (one process, the default) or
``redis://host:6379`` so that every worker and host of a deployment shares them. Every key
starts with ``RATELIMIT_KEY_PREFIX``. The address is ``request.remote_addr``; behind a reverse
proxy set ``TRUSTED_PROXY_HOPS`` (Werkzeug's ProxyFix then takes it from X-Forwarded-For),
otherwise every resident would share the proxy's address.
"""

from __future__ import annotations

import secrets

from flask import Flask, abort, current_app, request, session
from limits import parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

EXTENSION = "buurtbudget.throttle"
SESSION_KEY = "throttle_id"


class Throttle:
    """Counters of attempts in one shared store."""

    def __init__(self, storage_uri: str, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.storage: Storage = storage_from_string(storage_uri, key_prefix=key_prefix)
        self._window = FixedWindowRateLimiter(self.storage)

    def allows(self, limits: str, name: str, *key: str) -> bool:
        """Whether one more attempt is within every limit (nothing is counted)."""
        return all(
            self._window.test(item, self.key_prefix, name, *key) for item in parse_many(limits)
        )

    def hit(self, limits: str, name: str, *key: str) -> bool:
        """Count one attempt; False when it goes over any of the limits."""
        within = True
        for item in parse_many(limits):
            within = self._window.hit(item, self.key_prefix, name, *key) and within
        return within

    def clear(self) -> None:
        """Forget every count under this prefix (tests)."""
        self.storage.reset()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Throttle(
        app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_KEY_PREFIX"]
    )


def current() -> Throttle:
    return current_app.extensions[EXTENSION]


def client_address() -> str:
    return request.remote_addr or "unknown"


def session_id() -> str:
    """A random id of this browser session, kept in its signed cookie."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = session[SESSION_KEY] = secrets.token_urlsafe(16)
    return value


def _refuse() -> None:
    abort(429)


# Logging in ----------------------------------------------------------------------------------


def count_login_attempt() -> None:
    """Every login attempt counts against the address; 429 over the limit."""
    if not current().hit(current_app.config["LOGIN_RATE_LIMIT"], "login-address", client_address()):
        _refuse()


def check_account(email: str) -> None:
    """429 when the account had too many failed logins, also with the right password now."""
    if not current().allows(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"], "login-account", email):
        _refuse()


def count_failed_login(email: str) -> None:
    current().hit(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"], "login-account", email)


# Voting codes --------------------------------------------------------------------------------


def count_code_attempt() -> None:
    """Every voting code typed counts against the address and the browser session."""
    config = current_app.config
    by_address = current().hit(config["VOTING_CODE_RATE_LIMIT"], "code-address", client_address())
    by_session = current().hit(
        config["VOTING_CODE_SESSION_RATE_LIMIT"], "code-session", session_id()
    )
    if not (by_address and by_session):
        _refuse()
