"""Redirect safety and role decorators for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, redirect, session, url_for
from flask_login import current_user
from flask_login import login_required as _flask_login_required
from sqlalchemy import select

from buurtbudget.extensions import db, login_manager
from buurtbudget.models import Municipality, Role
from buurtbudget.web.params import arg_int


def is_safe_next(target: str | None) -> bool:
    """Only local paths: '/x' yes; '//evil', 'https://evil', '/\\evil', 'javascript:' no."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def redirect_next(target: str | None, fallback: str = "main.index"):
    return redirect(target if is_safe_next(target) else url_for(fallback))


def session_token_unchecked() -> str | None:
    """The session token of the logged-in resident, without loading them (the ballot box's
    hot path, services/voting/ballot_box.py, lets the database check it in the statement that
    writes). None when there is none, or when Flask-Login's "strong" session protection would
    refuse this session (another address or browser): then the normal way applies. Flask-Login
    has no public call for that check; its identifier generator is the one it uses itself."""
    token = session.get("_user_id")
    if token is None or session.get("_id") != login_manager._session_identifier_generator():
        return None
    return token


def staff_municipality(
    roles: tuple[Role, ...] = (Role.ADMINISTRATOR, Role.COORDINATOR),
) -> Municipality:
    """The municipality the user works for in one of ``roles`` (``?municipality=`` picks one
    when there are several, else the first); 403 without such a role."""
    ids = current_user.municipality_ids_with(*roles)
    if not ids:
        abort(403)
    wanted = arg_int("municipality")
    return db.session.get(Municipality, wanted if wanted in ids else min(ids)) or abort(404)


def staff_municipalities(*roles: Role) -> list[Municipality]:
    """The municipalities the user works for in one of ``roles``, by name (none for a
    visitor): where staff pages offer a choice."""
    if not current_user.is_authenticated:
        return []
    ids = current_user.municipality_ids_with(*roles)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Municipality).where(Municipality.id.in_(ids)).order_by(Municipality.name)
        )
    )


# Every view states who may call it by one of the decorators below, which also set
# ``view.permission``; tests/web/test_permission_matrix.py fails for a route without one.


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anyone, also without an account (a deliberate decision, not an omission)."""
    view.permission = "public"  # type: ignore[attr-defined]
    return view


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Any logged-in user; object-level checks happen in the service."""
    wrapped = _flask_login_required(view)
    wrapped.permission = "login"  # type: ignore[attr-defined]
    return wrapped


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Coordinators and administrators; the object-level check happens in the service."""

    @wraps(view)
    @_flask_login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    wrapped.permission = "staff"  # type: ignore[attr-defined]
    return wrapped


def role_required(*roles: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The user must hold at least one of ``roles`` (for any area)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @_flask_login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_user.has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.permission = "roles:" + ",".join(str(r) for r in roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator
