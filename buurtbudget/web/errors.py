"""Error pages: every failure a user can cause becomes a clear 4xx page, never a traceback."""

from __future__ import annotations

from contextlib import suppress

from flask import Flask, Response, abort, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from buurtbudget.extensions import login_manager
from buurtbudget.services.errors import ServiceError

_TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Temporarily unavailable"),
}
# Seconds a client is asked to wait when the database cannot be reached.
RETRY_AFTER_SECONDS = 5


def _render(status: int, message: str):
    title = str(_TITLES.get(status, _l("Error")))
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify({"error": title, "message": message, "status": status}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters():
        """PostgreSQL text cannot hold NUL (0x00): refuse such input clearly, before any form
        or service sees it (SQLite would store it, so both databases behave the same)."""
        fields = [*request.args.lists(), *request.form.lists()]
        if any("\x00" in key or any("\x00" in v for v in values) for key, values in fields):
            abort(400, _("The form contains a character that is not allowed."))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(400, _("The form expired or was sent from elsewhere. Please try again."))

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        return _render(error.status_code, str(error.message))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            403: _("You do not have permission to open this page."),
            404: _("We could not find this page."),
            413: _("The file is too large."),
            429: _("Too many attempts. Please wait a minute and try again."),
        }
        status = error.code or 500
        return _render(status, messages.get(status, error.description or ""))

    @app.errorhandler(DisconnectionError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(error: Exception):
        """The database cannot be reached or is busy (restart, failover, lock timeout). A
        transaction is all or nothing, so nothing half-written remains. Answer 503 at once;
        the pool's pre-ping reconnects on a later request. Other database errors stay 500s."""
        from buurtbudget.extensions import db

        unavailable = isinstance(error, DisconnectionError | OperationalError | InterfaceError)
        if not unavailable and not error.connection_invalidated:
            raise error
        with suppress(DBAPIError, DisconnectionError):
            db.session.rollback()
        # Translating and rendering would (re)load the user, expired by the rollback, to
        # choose their language: from the database that just failed. Show it as to a visitor.
        g._login_user = login_manager.anonymous_user()
        message = _("The service is briefly unavailable. Please try again in a minute.")
        try:
            response = _render(503, message)
        except Exception:  # noqa: BLE001 - the page itself may need the database (current user)
            response = Response(message, status=503, mimetype="text/plain")
        if isinstance(response, tuple):
            response = app.make_response(response)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.teardown_appcontext
    def close_session_quietly(_error):
        """Ends the request's session before Flask-SQLAlchemy's own teardown does (the last
        registered runs first). Its rollback fails when the server closed the connection after
        the response was made; that must not turn the response into an error."""
        from buurtbudget.extensions import db

        try:
            db.session.remove()
        except (DBAPIError, DisconnectionError):
            # The connection died with the server: close it without a rollback.
            db.session.invalidate()
            db.session.remove()

    @app.errorhandler(500)
    def server_error(error):
        """The page must not fail in turn: end the failed transaction first (the page loads
        the user to choose their language), and fall back to plain text."""
        from buurtbudget.extensions import db

        with suppress(Exception):
            db.session.rollback()
        try:
            return _render(500, _("Something went wrong on our side. Please try again later."))
        except Exception:  # noqa: BLE001 - the last resort must answer
            return Response(
                "Something went wrong on our side. Please try again later.",
                status=500,
                mimetype="text/plain",
            )
