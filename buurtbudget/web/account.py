"""Account self-service: change the e-mail address, news preferences, download my data,
delete my account; and the area newsletter staff send (services/outreach.py)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from sqlalchemy import select
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from buurtbudget.extensions import db
from buurtbudget.models import Area
from buurtbudget.services import account_data, account_email, outreach
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.initiatives import managed_area_ids
from buurtbudget.services.permissions import can_manage_area
from buurtbudget.web.forms import Form, attach_error, form_status
from buurtbudget.web.security import login_required, public, staff_required

bp = Blueprint("account", __name__, url_prefix="/account")


class EmailChangeForm(Form):
    email = EmailField(
        _l("New e-mail address"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired(), Email(), Length(max=254)],
    )
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])


class PreferencesForm(Form):
    news_in_app = BooleanField(_l("In the app (under Notifications)"))
    news_by_email = BooleanField(_l("By e-mail"))


class DeleteForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])
    confirm = BooleanField(
        _l("I understand that my account and my personal data will be deleted for good.")
    )


class NewsletterForm(Form):
    subject = StringField(
        _l("Subject"), validators=[DataRequired(), Length(max=outreach.SUBJECT_MAX)]
    )
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=outreach.BODY_MAX)])
    confirm = BooleanField(_l("I have checked the text: send it to the residents of this area."))


@bp.route("/email", methods=["GET", "POST"])
@login_required
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            account_email.request_email_change(current_user, form.password.data, form.email.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(
                _(
                    "We sent a link to %(email)s. Your address changes when you open it.",
                    email=form.email.data,
                ),
                "success",
            )
            return redirect(url_for("auth.change_password"))
    return render_template("account/email.html", form=form), form_status(form)


@bp.route("/email/confirm/<token>")
@public
def confirm_email_change(token: str):
    try:
        account_email.confirm_email_change(token)
    except ServiceError as error:
        return render_template("auth/link_invalid.html", message=error.message), error.status_code
    flash(_("Your new e-mail address is confirmed and in use."), "success")
    return redirect(url_for("main.index"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(obj=current_user)
    if form.validate_on_submit():
        outreach.set_preferences(
            current_user, in_app=form.news_in_app.data, by_email=form.news_by_email.data
        )
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("auth.change_password"))
    return render_template("account/preferences.html", form=form), form_status(form)


@bp.route("/data.json")
@login_required
def download_data():
    data = account_data.export(current_user)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="buurtbudget-my-data.json"'},
    )


@bp.route("/delete", methods=["GET", "POST"])
@login_required
def delete():
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            account_data.delete_account(current_user, form.password.data, form.confirm.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            logout_user()
            flash(_("Your account has been deleted."), "success")
            return redirect(url_for("main.index"))
    return render_template("account/delete.html", form=form), form_status(form)


# The area newsletter ------------------------------------------------------------------------


def _newsletter_areas() -> list[Area]:
    ids = managed_area_ids(current_user)
    if not ids:
        return []
    return list(db.session.scalars(select(Area).where(Area.id.in_(ids)).order_by(Area.name)))


@bp.route("/newsletter")
@staff_required
def newsletters():
    return render_template("account/newsletters.html", areas=_newsletter_areas())


@bp.route("/newsletter/<int:area_id>", methods=["GET", "POST"])
@staff_required
def newsletter(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    if not can_manage_area(current_user, area):
        abort(403)
    form = NewsletterForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = [_l("Tick the box to confirm that the text is ready to send.")]
        else:
            try:
                told = outreach.send_newsletter(
                    current_user, area, form.subject.data, form.body.data
                )
            except ServiceError as error:
                attach_error(form, error)
            else:
                flash(
                    _(
                        "The newsletter goes to %(n)d residents of %(area)s.",
                        n=told,
                        area=area.name,
                    ),
                    "success",
                )
                return redirect(url_for("account.newsletters"))
    return render_template("account/newsletter.html", form=form, area=area), form_status(form)
