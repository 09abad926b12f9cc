"""Issue 15.9 and 15.10: logging out ends every session of the account (copied cookies and
"keep me logged in" too), remember-me lasts at most 30 days; logins are throttled per account
and per address, voting codes per browser session and per address, behind a configurable
number of trusted proxies; the counts are shared by every worker through Redis.

The throttling tests run twice: on the in-memory store and on a real Redis server
(``BUURTBUDGET_TEST_REDIS_URL``, default redis://127.0.0.1:6379/0), under a random key
prefix per test session, since the Redis server may be shared. Without a Redis server they
are skipped, unless BUURTBUDGET_TEST_REDIS_URL is set (as .ci/run does): then they fail.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from buurtbudget.app import trust_proxies
from buurtbudget.services.voting import codes
from buurtbudget.web import throttle
from tests.factories import TEST_PASSWORD

REDIS_URL = os.environ.get("BUURTBUDGET_TEST_REDIS_URL")


# Sessions ------------------------------------------------------------------------------------


def _login(client, user, remember=False):
    data = {"email": user.email, "password": TEST_PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/account/login", data=data)
    assert response.status_code == 302
    return response


def _logged_in(client) -> bool:
    return client.get("/account/password").status_code == 200


def _copy(app, source, names):
    thief = app.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def test_logout_ends_copied_session_and_remember_me_cookies(app, make):
    user = make.resident()
    laptop = app.test_client()
    _login(laptop, user, remember=True)
    phone = app.test_client()
    _login(phone, user)
    copied_session = _copy(app, laptop, ["session"])
    copied_remember = _copy(app, laptop, ["remember_token"])
    assert _logged_in(copied_session) and _logged_in(copied_remember)

    laptop.post("/account/logout")

    assert not _logged_in(laptop)
    assert not _logged_in(copied_session)
    assert not _logged_in(copied_remember)
    assert not _logged_in(phone)  # every session of the account
    # Logging in again works, of course.
    fresh = app.test_client()
    _login(fresh, user)
    assert _logged_in(fresh)


def test_password_change_ends_remember_me_cookies_elsewhere(app, make):
    user = make.resident()
    laptop = app.test_client()
    _login(laptop, user, remember=True)
    copied_remember = _copy(app, laptop, ["remember_token"])
    phone = app.test_client()
    _login(phone, user)
    response = phone.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "nieuw wachtwoord",
            "confirm": "nieuw wachtwoord",
        },
    )
    assert response.status_code == 302
    assert not _logged_in(copied_remember) and not _logged_in(laptop)
    assert _logged_in(phone)


def test_remember_me_lasts_at_most_30_days(app, make):
    assert app.config["REMEMBER_COOKIE_DURATION"] <= 30 * 24 * 3600
    user = make.resident()
    client = app.test_client()
    response = _login(client, user, remember=True)
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_")]
    assert cookies, "no remember-me cookie"
    expires = next(
        part.split("=", 1)[1] for part in cookies[0].split("; ") if part.startswith("Expires=")
    )
    lifetime = parsedate_to_datetime(expires) - datetime.now(UTC)
    assert timedelta(days=29) < lifetime <= timedelta(days=30, minutes=1)


# Throttling ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"buurtbudget-test-{uuid.uuid4().hex}"


def _redis_or_skip(prefix: str) -> str:
    import redis

    url = REDIS_URL or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if REDIS_URL:
            pytest.fail(f"BUURTBUDGET_TEST_REDIS_URL={url} does not answer: {error}")
        pytest.skip(f"no Redis server at {url}")
    return url


@pytest.fixture(params=["memory", "redis"])
def store(request, app, redis_prefix):
    """The app's throttle on the in-memory store or on Redis, emptied before and after."""
    saved = {k: app.config[k] for k in ("RATELIMIT_STORAGE_URI", "RATELIMIT_KEY_PREFIX")}
    if request.param == "redis":
        app.config["RATELIMIT_STORAGE_URI"] = _redis_or_skip(redis_prefix)
        app.config["RATELIMIT_KEY_PREFIX"] = f"{redis_prefix}-{uuid.uuid4().hex[:8]}"
    throttle.init_app(app)
    throttle.current().clear()
    yield request.param
    throttle.current().clear()
    app.config.update(saved)
    throttle.init_app(app)


@pytest.fixture
def limits(app):
    names = (
        "LOGIN_RATE_LIMIT",
        "LOGIN_ACCOUNT_RATE_LIMIT",
        "VOTING_CODE_RATE_LIMIT",
        "VOTING_CODE_SESSION_RATE_LIMIT",
    )
    saved = {name: app.config[name] for name in names}
    yield app.config
    app.config.update(saved)


def _attempt(client, email, password="fout wachtwoord", address="10.0.0.1"):  # noqa: S107
    return client.post(
        "/account/login",
        data={"email": email, "password": password},
        environ_overrides={"REMOTE_ADDR": address},
    ).status_code


def test_failed_logins_throttle_the_account_from_any_address(app, make, store, limits):
    limits["LOGIN_ACCOUNT_RATE_LIMIT"] = "3 per minute"
    victim, other = make.resident(), make.resident()
    attacker = app.test_client()
    assert [_attempt(attacker, victim.email, address=f"10.0.0.{n}") for n in range(3)] == [400] * 3
    # The fourth guess, from yet another address, and even the right password: refused.
    assert _attempt(attacker, victim.email.upper(), address="10.0.9.9") == 429
    assert _attempt(app.test_client(), victim.email, TEST_PASSWORD, "10.1.1.1") == 429
    # Other accounts, from the same address, are not affected.
    assert _attempt(app.test_client(), other.email, TEST_PASSWORD, "10.0.0.1") == 302


def test_logins_are_throttled_per_address(app, make, store, limits):
    limits["LOGIN_RATE_LIMIT"] = "3 per minute"
    users = [make.resident() for _ in range(4)]
    client = app.test_client()
    statuses = [_attempt(client, u.email, address="10.0.0.7") for u in users]
    assert statuses == [400, 400, 400, 429]
    assert _attempt(app.test_client(), users[0].email, TEST_PASSWORD, "10.0.0.8") == 302


def _code_round(make):
    area = make.area(name="Tanthof")
    voting_round = make.voting_round(
        area, costs=(100_00,), uses_voting_codes=True, electorate=False
    )
    [(_recipient, code)] = codes.issue_voting_codes(
        None, voting_round, [codes.CodeRecipient("Kruithuisweg 1", area)]
    )
    return f"/rounds/{voting_round.id}/code", code


def _code(client, url, code="AAAA-BBBB-CCCC", address="10.0.0.1"):
    return client.post(
        url, data={"code": code}, environ_overrides={"REMOTE_ADDR": address}
    ).status_code


def test_voting_codes_are_throttled_per_session(app, make, store, limits):
    limits["VOTING_CODE_SESSION_RATE_LIMIT"] = "3 per minute"
    url, good = _code_round(make)
    guesser = app.test_client()
    assert [_code(guesser, url, address=f"10.0.1.{n}") for n in range(3)] == [400] * 3
    assert _code(guesser, url, good, address="10.0.1.9") == 429
    # Another browser (session) is not affected.
    assert _code(app.test_client(), url, good, address="10.0.1.1") == 302


def test_voting_codes_are_throttled_per_address(app, make, store, limits):
    limits["VOTING_CODE_RATE_LIMIT"] = "3 per minute"
    url, good = _code_round(make)
    # A guesser who drops the session cookie each time still meets the address's limit.
    assert [_code(app.test_client(), url) for _ in range(3)] == [400] * 3
    assert _code(app.test_client(), url, good) == 429
    assert _code(app.test_client(), url, good, address="10.0.2.2") == 302


def test_redis_counts_are_shared_by_every_worker(app, make, store, limits):
    """Two workers (two throttles on the same store settings): with Redis the second sees
    the first one's count; memory is per process, which is why production uses Redis."""
    limits["LOGIN_ACCOUNT_RATE_LIMIT"] = "3 per minute"
    victim = make.resident()
    worker_one = throttle.current()
    throttle.init_app(app)
    worker_two = throttle.current()
    assert worker_one is not worker_two
    client = app.test_client()
    app.extensions[throttle.EXTENSION] = worker_one
    assert [_attempt(client, victim.email) for _ in range(3)] == [400] * 3
    app.extensions[throttle.EXTENSION] = worker_two
    expected = 429 if store == "redis" else 400
    assert _attempt(client, victim.email) == expected
    app.extensions[throttle.EXTENSION] = worker_one


# Trusted proxies -----------------------------------------------------------------------------


@pytest.fixture
def proxied_app(app, limits):
    """The app as create_app() builds it with ``TRUSTED_PROXY_HOPS`` set (the same wiring,
    on the test app: a second app on PostgreSQL would need its own pool)."""
    original = app.wsgi_app
    limits["LOGIN_RATE_LIMIT"] = "3 per minute"
    throttle.current().clear()

    def build(hops: int):
        app.config["TRUSTED_PROXY_HOPS"] = hops
        app.wsgi_app = original
        trust_proxies(app)
        return app

    yield build
    app.wsgi_app = original
    app.config["TRUSTED_PROXY_HOPS"] = 0
    throttle.current().clear()


def _via_proxy(client, email, forwarded_for):
    return client.post(
        "/account/login",
        data={"email": email, "password": "fout wachtwoord"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_overrides={"REMOTE_ADDR": "127.0.0.1"},  # the proxy
    ).status_code


def test_behind_a_trusted_proxy_one_residents_guesses_do_not_lock_out_another(make, proxied_app):
    behind_proxy = proxied_app(1)
    one, two = make.resident(), make.resident()
    client = behind_proxy.test_client()
    assert [_via_proxy(client, one.email, "203.0.113.5") for _ in range(4)][-1] == 429
    assert _via_proxy(behind_proxy.test_client(), two.email, "198.51.100.7") == 400


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(make, proxied_app):
    direct = proxied_app(0)
    one = make.resident()
    statuses = [_via_proxy(direct.test_client(), one.email, f"198.51.100.{n}") for n in range(4)]
    assert statuses == [400, 400, 400, 429]
