"""Links mailed to an account's owner: confirming the e-mail address, resetting a forgotten
password, and changing the address (the new one confirmed by its own link).

Each link carries a random token that is stored only as a SHA-256 hash, expires, and is used
once: :func:`_consume` marks it used in one conditional UPDATE, so two clicks at the same
moment cannot both succeed. Mails go to the queue (services/mail.py) in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from buurtbudget.extensions import db
from buurtbudget.models import AccountToken, TokenPurpose, User
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, mail
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed

NOT_CONFIRMED = _l(
    "Confirm your e-mail address first: follow the link we e-mailed you"
    " (you can ask for a new link on the My account page)."
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    minimum = current_app.config["MINIMUM_PASSWORD_LENGTH"]
    if len(password) < minimum:
        raise ValidationFailed(
            _l("The password must be at least %(n)d characters long.", n=minimum),
            field="password",
        )


def require_confirmed_email(user: User | None) -> None:
    """Refuse an account whose e-mail address is not confirmed (propose, comment, join, vote)."""
    if user is not None and user.is_authenticated and not user.email_confirmed:
        raise PermissionDenied(NOT_CONFIRMED)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def external_url(endpoint: str, **values) -> str:
    """An absolute link: the request's host inside a request, BASE_URL outside one."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def _issue(user: User, purpose: TokenPurpose, email: str, lifetime: timedelta) -> str:
    raw = secrets.token_urlsafe(32)
    db.session.add(
        AccountToken(
            user=user,
            purpose=purpose,
            token_hash=_hash(raw),
            email=email,
            expires_at=utcnow() + lifetime,
        )
    )
    return raw


def _consume(raw: str, purpose: TokenPurpose) -> AccountToken | None:
    """Mark the token used if it is valid now; the token, or None (unknown, used, expired)."""
    if not raw or len(raw) > 100:
        return None
    now = utcnow()
    result = db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == _hash(raw),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return db.session.scalar(select(AccountToken).where(AccountToken.token_hash == _hash(raw)))


def is_valid(raw: str, purpose: TokenPurpose) -> bool:
    """Whether a link can still be used (to show its form), without using it."""
    if not raw or len(raw) > 100:
        return False
    return (
        db.session.scalar(
            select(AccountToken.id).where(
                AccountToken.token_hash == _hash(raw),
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
                AccountToken.expires_at > utcnow(),
            )
        )
        is not None
    )


def _locale(user: User) -> str:
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _sent_recently(user: User, purpose: TokenPurpose) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.created_at > utcnow() - timedelta(hours=1),
        )
    )


def _may_mail(user: User, purpose: TokenPurpose) -> bool:
    return _sent_recently(user, purpose) < int(current_app.config["PASSWORD_RESET_MAILS_PER_HOUR"])


# Confirming the address -------------------------------------------------------------------


def queue_confirmation(user: User) -> None:
    """Mail a confirmation link to the account's address (in the caller's transaction)."""
    hours = int(current_app.config["EMAIL_CONFIRMATION_HOURS"])
    raw = _issue(user, TokenPurpose.CONFIRM_EMAIL, user.email, timedelta(hours=hours))
    with force_locale(_locale(user)):
        mail.queue(
            user.email,
            _("Buurtbudget: confirm your e-mail address"),
            _(
                "Hello %(name)s,\n\nPlease confirm your e-mail address by opening this link"
                " within %(hours)d hours:\n\n%(link)s\n\nUntil then you cannot propose, comment,"
                " join a working group or vote. Did you not register? Then ignore this e-mail.",
                name=user.display_name,
                hours=hours,
                link=external_url("auth.confirm_email", token=raw),
            ),
        )


def resend_confirmation(user: User) -> bool:
    """A new link for a logged-in, unconfirmed owner; False when too many were sent lately."""
    if user.email_confirmed:
        raise Conflict(_l("Your e-mail address is already confirmed."))
    if not _may_mail(user, TokenPurpose.CONFIRM_EMAIL):
        return False
    queue_confirmation(user)
    db.session.commit()
    return True


def confirm_email(raw: str) -> User:
    token = _consume(raw, TokenPurpose.CONFIRM_EMAIL)
    user = token.user if token is not None else None
    if user is None or user.deleted_at is not None or token.email != user.email:
        db.session.rollback()
        raise ValidationFailed(_l("This confirmation link is not valid (any more)."))
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        audit.record(user, "account.email_confirmed", user, municipality_id=user.municipality_id)
    db.session.commit()
    return user


# Forgotten password -----------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Mail a reset link if an active account has this address. The caller answers the same
    either way, so the answer tells nobody whether an address has an account."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active or user.deleted_at is not None:
        return
    if not _may_mail(user, TokenPurpose.RESET_PASSWORD):
        return
    minutes = int(current_app.config["PASSWORD_RESET_MINUTES"])
    raw = _issue(user, TokenPurpose.RESET_PASSWORD, user.email, timedelta(minutes=minutes))
    with force_locale(_locale(user)):
        mail.queue(
            user.email,
            _("Buurtbudget: set a new password"),
            _(
                "Hello %(name)s,\n\nSomeone (hopefully you) asked to set a new password for"
                " your account. Open this link within %(minutes)d minutes to choose one; it works"
                " once:\n\n%(link)s\n\nDid you not ask for this? Then ignore this e-mail: your"
                " password stays as it is.",
                name=user.display_name,
                minutes=minutes,
                link=external_url("auth.reset_password", token=raw),
            ),
        )
    audit.record(None, "account.password_reset_requested", user)
    db.session.commit()


def reset_password(raw: str, new_password: str) -> User:
    check_password_strength(new_password)
    token = _consume(raw, TokenPurpose.RESET_PASSWORD)
    user = token.user if token is not None else None
    if user is None or not user.is_active or token.email != user.email:
        db.session.rollback()
        raise ValidationFailed(_l("This link to set a new password is not valid (any more)."))
    user.set_password(new_password)  # rotates the session token: every session logs out
    if user.email_confirmed_at is None:  # the link reached this address
        user.email_confirmed_at = utcnow()
    # Other reset links of this account stop working too.
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == TokenPurpose.RESET_PASSWORD,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    audit.record(user, "account.password_reset", user, municipality_id=user.municipality_id)
    db.session.commit()
    return user


# Changing the address ---------------------------------------------------------------------


def request_email_change(user: User, password: str, new_email: str) -> None:
    """Mail a link to the new address; the address changes once that link is followed."""
    if not user.check_password(password):
        raise ValidationFailed(_l("The password is not correct."), field="password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise ValidationFailed(_l("This is already your e-mail address."), field="email")
    if db.session.scalar(select(User.id).where(User.email == new_email)) is not None:
        raise Conflict(_l("An account with this e-mail address already exists."), field="email")
    if not _may_mail(user, TokenPurpose.CHANGE_EMAIL):
        raise Conflict(_l("Too many requests. Please try again in an hour."))
    hours = int(current_app.config["EMAIL_CONFIRMATION_HOURS"])
    raw = _issue(user, TokenPurpose.CHANGE_EMAIL, new_email, timedelta(hours=hours))
    with force_locale(_locale(user)):
        mail.queue(
            new_email,
            _("Buurtbudget: confirm your new e-mail address"),
            _(
                "Hello %(name)s,\n\nOpen this link within %(hours)d hours to use this address"
                " for your Buurtbudget account:\n\n%(link)s\n\nDid you not ask for this? Then"
                " ignore this e-mail.",
                name=user.display_name,
                hours=hours,
                link=external_url("account.confirm_email_change", token=raw),
            ),
        )
        mail.queue(
            user.email,
            _("Buurtbudget: change of e-mail address requested"),
            _(
                "Hello %(name)s,\n\nSomeone logged in to your account asked to use %(email)s"
                " from now on. It changes only when the link sent to that address is opened."
                " Was it not you? Change your password.",
                name=user.display_name,
                email=new_email,
            ),
        )
    audit.record(user, "account.email_change_requested", user, municipality_id=user.municipality_id)
    db.session.commit()


def confirm_email_change(raw: str) -> User:
    token = _consume(raw, TokenPurpose.CHANGE_EMAIL)
    user = token.user if token is not None else None
    if user is None or not user.is_active:
        db.session.rollback()
        raise ValidationFailed(_l("This confirmation link is not valid (any more)."))
    old_email = user.email
    user.email = token.email
    user.email_confirmed_at = utcnow()
    audit.record(user, "account.email_changed", user, municipality_id=user.municipality_id)
    with force_locale(_locale(user)):
        mail.queue(
            old_email,
            _("Buurtbudget: your e-mail address was changed"),
            _(
                "Hello %(name)s,\n\nYour Buurtbudget account now uses %(email)s. Was it not"
                " you? Contact your municipality.",
                name=user.display_name,
                email=token.email,
            ),
        )
    try:
        db.session.commit()
    except IntegrityError:  # someone registered the address in the meantime
        db.session.rollback()
        raise Conflict(_l("An account with this e-mail address already exists.")) from None
    return user
