"""Home page, areas, language switch."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, session
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import HiddenField

from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality
from buurtbudget.services.happening import happening_now
from buurtbudget.web.forms import Form
from buurtbudget.web.security import public, redirect_next

bp = Blueprint("main", __name__)


class LanguageForm(Form):
    next = HiddenField()


@bp.app_context_processor
def inject_language_form():
    # Never bound to the request: an error page (e.g. 413 for an oversized POST) renders it
    # too, and reading that request's body again would fail once more.
    return {"language_form": LanguageForm(formdata=None)}


@bp.route("/")
@public
def index():
    municipalities = db.session.scalars(
        select(Municipality).options(selectinload(Municipality.areas)).order_by(Municipality.name)
    ).all()
    home_area = current_user.home_area if current_user.is_authenticated else None
    now = happening_now([a.id for m in municipalities for a in m.areas])
    return render_template(
        "main/index.html", municipalities=municipalities, home_area=home_area, now=now
    )


@bp.route("/areas/<int:area_id>")
@public
def area(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    return render_template("main/area.html", area=area, now=happening_now([area.id])[area.id])


def _statement(name: str):
    """A long statement kept as one template per language (main/<name>.<lang>.html)."""
    lang = "nl" if str(get_locale()) == "nl" else "en"
    return render_template(f"main/{name}.{lang}.html")


@bp.route("/accessibility")
@public
def accessibility():
    return _statement("accessibility")


@bp.route("/privacy")
@public
def privacy():
    return _statement("privacy")


@bp.route("/language/<lang>", methods=["POST"])
@public
def set_language(lang: str):
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated and current_user.locale != lang:
        current_user.locale = lang
        db.session.commit()
    return redirect_next(form.next.data)


@bp.route("/healthz")
@public
def health():
    db.session.execute(select(1))
    return {"status": "ok"}
