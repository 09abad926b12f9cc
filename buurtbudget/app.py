"""The application factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import get_locale

from buurtbudget.extensions import babel, csrf, db, limiter, login_manager, migrate

PROJECT_DIR = Path(__file__).resolve().parent.parent


def create_app(config: str | dict[str, Any] | None = None, **overrides: Any) -> Flask:
    """Create the app. ``config`` is an environment name ("development", "testing",
    "production") or a dict of settings; ``overrides`` win over both."""
    from config import INSTANCE_DIR, load_config

    app = Flask(
        __name__,
        static_folder=str(PROJECT_DIR / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    settings = load_config(config) if config is None or isinstance(config, str) else dict(config)
    settings.update(overrides)
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set: set BUURTBUDGET_SECRET_KEY to a long random value"
        )
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )

    trust_proxies(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)

    from buurtbudget import cli

    cli.register(app)
    if app.config.get("RULES_WARM_UP_AT_START"):
        from buurtbudget.domain.rules.warmup import warm_up_in_background

        warm_up_in_background()
    return app


def trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXY_HOPS`` reverse proxies, take the client's address, scheme and
    host from their X-Forwarded-* headers (Werkzeug ProxyFix); with 0, trust no such header."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def _init_extensions(app: Flask) -> None:
    from buurtbudget import models  # noqa: F401 - registers the tables on db.metadata
    from buurtbudget.db_setup import configure_engine_events, render_migration_item

    db.init_app(app)
    with app.app_context():
        configure_engine_events(db.engine)
    migrate.init_app(
        app,
        db,
        directory=str(PROJECT_DIR / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    from buurtbudget.web import throttle

    throttle.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to open this page.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(session_token: str):
        from sqlalchemy import select

        from buurtbudget.models import User

        return db.session.scalar(select(User).where(User.session_token == session_token))


def select_locale() -> str:
    from flask_login import current_user

    return choose_locale(lambda: current_user.locale if current_user.is_authenticated else None)


def choose_locale(user_locale: Callable[[], str | None]) -> str:
    """The language chosen in this session, else the user's own (asked only then, as it may
    load the user), else the browser's best match, else the default."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    own = user_locale()
    if own in languages:
        return own
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def _register_blueprints(app: Flask) -> None:
    from buurtbudget.web.params import BoundedIntegerConverter

    # Before any route is added: every <int:...> in a URL takes ASCII digits within bounds.
    app.url_map.converters["int"] = BoundedIntegerConverter
    from buurtbudget.web import (
        account,
        admin,
        api,
        auth,
        budget_admin,
        budgets,
        errors,
        groups,
        initiatives,
        jobs,
        main,
        monitoring,
        notifications,
        progress,
        themes,
        voting,
        voting_staff,
        weighting,
    )

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(initiatives.bp)
    app.register_blueprint(groups.bp)
    app.register_blueprint(themes.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(budgets.bp)
    app.register_blueprint(budget_admin.bp)
    app.register_blueprint(voting.bp)
    app.register_blueprint(voting_staff.bp)
    app.register_blueprint(weighting.bp)
    app.register_blueprint(monitoring.bp)
    app.register_blueprint(progress.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(jobs.bp)
    errors.register(app)


def _register_hooks(app: Flask) -> None:
    from buurtbudget.web import formatting

    formatting.register(app)

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}

    @app.after_request
    def security_headers(response):
        # No inline script anywhere: the CSP forbids it, so injected markup cannot run.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS_ENABLED"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
