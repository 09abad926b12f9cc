"""Register, log in, log out, change password; confirm the e-mail address and reset a
forgotten password through the links services/account_email.py mails."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from buurtbudget.domain.addresses import InvalidHouseNumber, parse_house_number
from buurtbudget.domain.postcode import InvalidPostcode, normalise_postcode
from buurtbudget.extensions import db
from buurtbudget.models import Municipality, TokenPurpose
from buurtbudget.services import account_email, accounts
from buurtbudget.services.errors import ServiceError
from buurtbudget.web import throttle
from buurtbudget.web.forms import (
    ConfirmForm,
    Form,
    WholeNumberField,
    attach_error,
    form_status,
    require_confirmation,
    whole_number,
)
from buurtbudget.web.security import login_required, public, redirect_next

bp = Blueprint("auth", __name__, url_prefix="/account")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class LoginForm(Form):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(), Length(max=254)], filters=[_strip]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me logged in on this device"))


class RegisterForm(Form):
    display_name = StringField(
        _l("Name shown to others"), validators=[DataRequired(), Length(max=80)]
    )
    email = EmailField(
        _l("E-mail address"),
        filters=[_strip],
        validators=[DataRequired(), Email(), Length(max=254)],
    )
    postcode = StringField(
        _l("Postcode"),
        validators=[DataRequired(), Length(max=8)],
        description=_l("For example 2611 AB. With your house number it decides your area."),
    )
    house_number = StringField(
        _l("House number"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=16)],
        description=_l("With its letter or addition, for example 12, 12a or 12-2."),
    )
    birth_year = WholeNumberField(
        _l("Year of birth"),
        validators=[Optional(), NumberRange(1900, 2100)],
        description=_l("Needed for rounds with a minimum age."),
    )
    municipality = SelectField(_l("Municipality"), coerce=whole_number, validators=[Optional()])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )

    def validate_postcode(self, field):
        try:
            normalise_postcode(field.data or "")
        except InvalidPostcode:
            raise ValidationError(
                _l("This is not a valid Dutch postcode (e.g. 2611 AB).")
            ) from None

    def validate_house_number(self, field):
        try:
            parse_house_number(field.data or "")  # ASCII digits only, as every number typed
        except InvalidHouseNumber:
            raise ValidationError(
                _l("This is not a valid house number (e.g. 12, 12a or 12-2).")
            ) from None

    def validate_password(self, field):
        minimum = current_app.config["MINIMUM_PASSWORD_LENGTH"]
        if len(field.data or "") < minimum:
            raise ValidationError(
                _l("The password must be at least %(n)d characters long.", n=minimum)
            )


class PasswordChangeForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class ResetRequestForm(Form):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(), Length(max=254)], filters=[_strip]
    )


class NewPasswordForm(Form):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    municipalities = db.session.scalars(select(Municipality).order_by(Municipality.name)).all()
    form.municipality.choices = [SelectChoice(m.id, m.name) for m in municipalities]
    if form.validate_on_submit():
        try:
            user = accounts.register(
                accounts.Registration(
                    email=form.email.data,
                    password=form.password.data,
                    display_name=form.display_name.data,
                    postcode=form.postcode.data,
                    house_number=form.house_number.data,
                    birth_year=form.birth_year.data,
                    municipality_id=form.municipality.data or None,
                    locale=request.accept_languages.best_match(current_app.config["LANGUAGES"]),
                )
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            login_user(user)
            flash(
                _(
                    "We sent a link to %(email)s. Open it to confirm your e-mail address:"
                    " then you can propose, comment, join working groups and vote.",
                    email=user.email,
                ),
                "info",
            )
            if user.home_area:
                flash(_("Welcome! You live in %(area)s.", area=user.home_area.name), "success")
            else:
                flash(
                    _(
                        "Welcome! We could not find your address in an area yet; the municipality"
                        " will assign your area."
                    ),
                    "info",
                )
            # E.g. back to the cheque landing page the household came from.
            return redirect_next(request.args.get("next"))
    return render_template("auth/register.html", form=form), 200 if not form.errors else 400


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect_next(request.args.get("next"))
    form = LoginForm()
    if request.method == "POST":
        throttle.count_login_attempt()
    if form.validate_on_submit():
        email = accounts.normalise_email(form.email.data)
        throttle.check_account(email)
        user = accounts.authenticate(email, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect_next(request.args.get("next"))
        throttle.count_failed_login(email)
        form.password.errors.append(_l("E-mail address or password is not correct."))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        # Every session of the account ends, also copied cookies and "keep me logged in".
        accounts.end_all_sessions(current_user._get_current_object())
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            # The session token rotated: log in again with it so only this session survives.
            login_user(current_user._get_current_object())
            flash(_("Your password has been changed. Other sessions are logged out."), "success")
            return redirect(url_for("main.index"))
    status = 400 if form.errors else 200
    return render_template("auth/password.html", form=form, confirm_form=ConfirmForm()), status


# E-mail confirmation ----------------------------------------------------------------------


@bp.route("/confirm/<token>")
@public
def confirm_email(token: str):
    """The link in the confirmation e-mail (it works without being logged in)."""
    try:
        account_email.confirm_email(token)
    except ServiceError as error:
        return render_template("auth/link_invalid.html", message=error.message), 400
    flash(_("Thank you: your e-mail address is confirmed."), "success")
    return redirect(url_for("main.index"))


@bp.route("/confirm/resend", methods=["POST"])
@login_required
def resend_confirmation():
    require_confirmation()
    try:
        sent = account_email.resend_confirmation(current_user)
    except ServiceError as error:
        flash(str(error.message), "info")
    else:
        if sent:
            flash(_("We sent a new link to %(email)s.", email=current_user.email), "success")
        else:
            flash(_("We sent several links already. Please try again in an hour."), "error")
    return redirect(url_for("auth.change_password"))


# Forgotten password -----------------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@public
def request_reset():
    form = ResetRequestForm()
    if request.method == "POST" and not throttle.current().hit(
        current_app.config["PASSWORD_RESET_RATE_LIMIT"], "reset-address", throttle.client_address()
    ):
        abort(429)
    if form.validate_on_submit():
        account_email.request_password_reset(form.email.data)
        # The same answer whether or not the address has an account.
        flash(
            _(
                "If an account uses this address, we have sent it a link to set a new"
                " password. The link works once and expires in %(minutes)d minutes.",
                minutes=current_app.config["PASSWORD_RESET_MINUTES"],
            ),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form), form_status(form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    if not account_email.is_valid(token, TokenPurpose.RESET_PASSWORD):
        message = _("This link to set a new password is not valid (any more).")
        return render_template("auth/link_invalid.html", message=message), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            account_email.reset_password(token, form.new_password.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            logout_user()
            flash(_("Your password has been set. Log in with it."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), form_status(form)
