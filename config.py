"""Configuration classes for Buurtbudget.

Every setting can be overridden by an environment variable named ``BUURTBUDGET_<SETTING>``
(for example ``BUURTBUDGET_DATABASE_URL`` or ``BUURTBUDGET_SECRET_KEY``). Values are read once,
when the application is created.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_PREFIX = "BUURTBUDGET_"
BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("BUURTBUDGET_INSTANCE_PATH", BASE_DIR / "instance"))


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    # An embedded SQLite file by default, so a newcomer needs nothing else.
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'buurtbudget.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # Load the compiled Equal Shares rounds (numba) in a background thread at start-up, so no
    # request pays for it (buurtbudget/domain/rules/warmup.py); `flask rules warm-up` after an
    # install compiles them once.
    RULES_WARM_UP_AT_START = False

    # Internationalisation: Dutch first, English second.
    LANGUAGES = ("nl", "en")
    BABEL_DEFAULT_LOCALE = "nl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Amsterdam"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")

    # Sessions and cookies.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    # "Keep me logged in" lasts this many seconds (30 days); logging out or changing the
    # password ends it on every device (the cookie names the account's session generation).
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
    # How many reverse proxies (nginx, Caddy) stand in front of the app: their
    # X-Forwarded-For/-Proto/-Host are trusted that many hops deep (Werkzeug ProxyFix). 0:
    # none, the connecting address is the client's.
    TRUSTED_PROXY_HOPS = 0

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4

    # Throttling (web/throttle.py and Flask-Limiter). memory:// counts per process; with
    # several workers or hosts use a shared store, e.g. redis://127.0.0.1:6379. Every key
    # starts with RATELIMIT_KEY_PREFIX.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_KEY_PREFIX = "buurtbudget"
    # Login attempts per address, and failed logins per account.
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
    LOGIN_ACCOUNT_RATE_LIMIT = "5 per minute;20 per hour"
    # Voting codes typed per address and per browser session.
    VOTING_CODE_RATE_LIMIT = "10 per minute;50 per hour"
    VOTING_CODE_SESSION_RATE_LIMIT = "5 per minute;20 per hour"
    # Cheque codes typed per IP address: guessing codes must stay hopeless.
    CHEQUE_REDEEM_RATE_LIMIT = "20 per minute;200 per hour"

    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    PAGE_SIZE = 25
    HSTS_ENABLED = False

    # Initiatives: at most this many themes on an area's yearly agenda (Delft: 3 to 5).
    AREA_AGENDA_MAX_THEMES = 5
    # Payouts above this amount (cents) need a second coordinator's approval (EUR 1,000, as at
    # the Rijnland water board).
    PAYOUT_SECOND_APPROVAL_CENTS = 100_000
    # Rounds with more ballots than this are counted, published and exported as background
    # jobs (services/jobs.py), whose page shows their progress, not in the web request, so
    # that no web worker is held past its timeout (gunicorn: 30 s).
    LONG_STEP_BALLOTS = 20_000
    # Who does the jobs: `flask jobs work` (production, next to gunicorn), or, with this on,
    # a thread of the web process (the demo, which has no worker).
    JOBS_IN_WEB_PROCESS = False
    # A running job whose worker has not renewed its lease for this long (it does so every
    # quarter lease) is taken to have died: it is tried again, at most JOB_MAX_ATTEMPTS times.
    JOB_LEASE_SECONDS = 120
    JOB_MAX_ATTEMPTS = 2
    # Importing a pabulib file on the screen: files up to PB_IMPORT_IN_REQUEST_BYTES are imported
    # in the request; larger ones (Warszawa 2026: 3 MB, 20 to 50 s) by a background job. The
    # request itself is capped by MAX_CONTENT_LENGTH.
    PB_IMPORT_IN_REQUEST_BYTES = 500_000
    PB_IMPORT_MAX_BYTES = 10 * 1024 * 1024
    # Issuing cheques to more households than this: the letters (5 ms a PDF letter, so some
    # 3 s at this size) are written by a background job, sealed to a key that only the issuing
    # staff member's session holds, instead of in the request.
    LONG_STEP_LETTERS = 500
    # Where such uploads wait for their job; empty means "<instance folder>/job-uploads".
    JOB_UPLOADS_FOLDER = ""
    # Where jobs write their files (exports); empty means "<instance folder>/job-results".
    JOB_RESULTS_FOLDER = ""
    # Files there (and .partial leftovers) are deleted this long after they were written, by
    # `flask jobs clean` and by the worker now and then: a round's export is made again on
    # request, and old copies should not pile up.
    JOB_RESULTS_KEEP_HOURS = 48
    ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    ATTACHMENTS_PER_INITIATIVE = 8
    # Where attachments are stored; empty means "<instance folder>/uploads".
    UPLOAD_FOLDER = ""

    # E-mail: "console" logs each message (logger buurtbudget.mail); "smtp" sends it.
    MAIL_BACKEND = "console"
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_DEFAULT_SENDER = "Buurtbudget <noreply@buurtbudget.local>"
    # The queue (services/mail.py, `flask send-mail`): a failed message is tried again after
    # MAIL_RETRY_SECONDS, doubling each time, and given up after MAIL_MAX_ATTEMPTS tries.
    MAIL_MAX_ATTEMPTS = 5
    MAIL_RETRY_SECONDS = 60
    # Links in e-mails written outside a request (the worker's round announcements).
    BASE_URL = "http://127.0.0.1:5000"

    # Account links mailed to the owner (single use): how long they stay valid.
    EMAIL_CONFIRMATION_HOURS = 48
    PASSWORD_RESET_MINUTES = 60
    # Password-reset requests per IP address, and reset mails per account per hour.
    PASSWORD_RESET_RATE_LIMIT = "5 per minute;20 per hour"  # noqa: S105
    PASSWORD_RESET_MAILS_PER_HOUR = 3

    # Monitoring: when the municipality overview flags an area as lagging behind (see
    # buurtbudget/domain/monitoring.py and docs/monitoring.md). Turnout below this percentage
    # of the median turnout of the areas; more than this percentage of the year's budget
    # unspent after this many months; the area report of last year not published by this
    # month-day.
    MONITORING_LOW_TURNOUT_PERCENT = 50
    MONITORING_UNSPENT_PERCENT = 50
    MONITORING_UNSPENT_AFTER_MONTH = 9
    MONITORING_REPORT_DEADLINE = "04-01"

    # Key of the HMAC under which the municipality's person keys of the register extract are
    # stored (never in clear). Set it once per installation and keep it: a new key makes the
    # person keys of earlier imports unrecognisable. Required before importing an electorate.
    ELECTORATE_SECRET = ""
    # The register extract uploaded on the round's staff page (the command line has no limit),
    # and how long its checked rows wait for the confirmation (in the instance folder).
    REGISTER_EXTRACT_MAX_BYTES = 32 * 1024 * 1024
    REGISTER_PREVIEW_MINUTES = 30
    # Where the QR code of a stempas letter leads (the public address of this site).
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"

    MINIMUM_PASSWORD_LENGTH = 10
    # werkzeug's default (scrypt); tests use a cheap method so each login takes microseconds.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a method name, not a password


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    # A fixed key is fine for a local demo; production refuses to start without its own.
    SECRET_KEY = "dev-only-not-secret"  # noqa: S105
    ELECTORATE_SECRET = "dev-only-electorate-secret"  # noqa: S105
    JOBS_IN_WEB_PROCESS = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-only-not-secret"  # noqa: S105
    ELECTORATE_SECRET = "testing-only-electorate-secret"  # noqa: S105
    DATABASE_URL = "sqlite://"
    WTF_CSRF_ENABLED = False
    # The limiter stays on, with a limit no test reaches; the rate-limit test lowers it.
    LOGIN_RATE_LIMIT = "100000 per minute"
    LOGIN_ACCOUNT_RATE_LIMIT = "100000 per minute"
    VOTING_CODE_RATE_LIMIT = "100000 per minute"
    VOTING_CODE_SESSION_RATE_LIMIT = "100000 per minute"
    CHEQUE_REDEEM_RATE_LIMIT = "100000 per minute"
    PASSWORD_RESET_RATE_LIMIT = "100000 per minute"  # noqa: S105
    MINIMUM_PASSWORD_LENGTH = 8
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105


class ProductionConfig(Config):
    ENV_NAME = "production"
    RULES_WARM_UP_AT_START = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS_ENABLED = True


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def _coerce(raw: str, current: object) -> object:
    """Turn an environment string into the type of the setting it overrides."""
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, (dict, list, tuple)):
        value = json.loads(raw)
        return tuple(value) if isinstance(current, tuple) else value
    return raw


def load_config(name: str | None = None, environ: dict[str, str] | None = None) -> dict:
    """Return the settings of the named environment with ``BUURTBUDGET_*`` overrides applied."""
    environ = os.environ if environ is None else environ
    name = name or environ.get(f"{ENV_PREFIX}ENV", "development")
    if name not in CONFIGS:
        raise ValueError(f"Unknown configuration {name!r}; choose one of {sorted(CONFIGS)}")
    cls = CONFIGS[name]
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    for env_key, raw in environ.items():
        if not env_key.startswith(ENV_PREFIX):
            continue
        key = env_key[len(ENV_PREFIX) :]
        if key in {"ENV", "INSTANCE_PATH", "TEST_DATABASE_URL", "TEST_REDIS_URL"}:
            continue
        settings[key] = _coerce(raw, settings.get(key))
    return settings
