"""Staff pages of the foundation: residents' home areas and role assignments."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select
from wtforms import EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality, Role, RoleAssignment, User
from buurtbudget.services import accounts
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.permissions import is_admin_of
from buurtbudget.web.forms import ConfirmForm, Form, attach_error, whole_number
from buurtbudget.web.pagination import paginate
from buurtbudget.web.security import login_required, staff_municipality, staff_required

bp = Blueprint("admin", __name__, url_prefix="/staff")


class HomeAreaForm(Form):
    area = SelectField(_l("Area"), coerce=whole_number, validators=[DataRequired()])


class GrantRoleForm(Form):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(Role.COUNCIL_MEMBER.value, _l("Area council member")),
            SelectChoice(Role.COORDINATOR.value, _l("Coordinator")),
            SelectChoice(Role.ADMINISTRATOR.value, _l("Administrator")),
        ],
    )
    area = SelectField(_l("Area"), coerce=whole_number, validators=[Optional()])


def _manageable_areas(municipality: Municipality) -> list[Area]:
    if is_admin_of(current_user, municipality.id):
        return list(municipality.areas)
    own = current_user.area_ids_with(Role.COORDINATOR)
    return [a for a in municipality.areas if a.id in own]


@bp.route("/")
@login_required
def hub():
    """One page with every tool the user's roles give access to, so the menu stays short."""
    if not current_user.roles:
        abort(403)
    council_areas = sorted(
        (r.area for r in current_user.roles if r.role is Role.COUNCIL_MEMBER and r.area),
        key=lambda area: area.name,
    )
    coordinated_areas = sorted(
        (r.area for r in current_user.roles if r.role is Role.COORDINATOR and r.area),
        key=lambda area: area.name,
    )
    return render_template(
        "admin/hub.html",
        council_areas=council_areas,
        coordinated_areas=coordinated_areas,
        # Only links the user may follow: importing a pabulib file is for administrators.
        can_import=bool(current_user.municipality_ids_with(Role.ADMINISTRATOR)),
    )


@bp.route("/residents")
@staff_required
def residents():
    municipality = staff_municipality()
    areas = _manageable_areas(municipality)
    only_unassigned = request.args.get("unassigned") == "1"
    query_text = (request.args.get("q") or "").strip()[:100]
    area_ids = [a.id for a in areas]
    stmt = select(User).where(User.municipality_id == municipality.id)
    if only_unassigned:
        stmt = stmt.where(User.home_area_id.is_(None))
    else:
        stmt = stmt.where(or_(User.home_area_id.in_(area_ids), User.home_area_id.is_(None)))
    if query_text:
        like = f"%{query_text.lower()}%"
        stmt = stmt.where(
            or_(
                db.func.lower(User.display_name).like(like),
                User.email.like(like),
                User.postcode.like(like.upper()),
            )
        )
    page = paginate(stmt.order_by(User.display_name, User.id))
    form = HomeAreaForm()
    form.area.choices = [SelectChoice(a.id, a.name) for a in areas]
    return render_template(
        "admin/residents.html",
        page=page,
        form=form,
        municipality=municipality,
        only_unassigned=only_unassigned,
        query_text=query_text,
    )


@bp.route("/residents/<int:user_id>/area", methods=["POST"])
@staff_required
def set_home_area(user_id: int):
    municipality = staff_municipality()
    resident = db.session.get(User, user_id) or abort(404)
    if resident.municipality_id not in (None, municipality.id):
        abort(404)
    form = HomeAreaForm()
    form.area.choices = [SelectChoice(a.id, a.name) for a in municipality.areas]
    if not form.validate_on_submit():
        abort(400)
    area = db.session.get(Area, form.area.data) or abort(404)
    accounts.set_home_area(current_user, resident, area)
    flash(
        _("%(name)s now lives in %(area)s.", name=resident.display_name, area=area.name), "success"
    )
    return redirect(url_for("admin.residents", unassigned=request.args.get("unassigned")))


@bp.route("/roles", methods=["GET", "POST"])
@staff_required
def roles():
    municipality = staff_municipality()
    if not is_admin_of(current_user, municipality.id):
        abort(403)
    form = GrantRoleForm()
    form.area.choices = [SelectChoice(0, "–")] + [
        SelectChoice(a.id, a.name) for a in municipality.areas
    ]
    status = 200
    if form.validate_on_submit():
        user = db.session.scalar(
            select(User).where(User.email == accounts.normalise_email(form.email.data))
        )
        area = db.session.get(Area, form.area.data) if form.area.data else None
        if user is None:
            form.email.errors = [_("No account with this e-mail address.")]
        else:
            try:
                accounts.grant_role(
                    current_user, user, Role(form.role.data), municipality=municipality, area=area
                )
            except ServiceError as error:
                attach_error(form, error)
            else:
                flash(_("Role granted."), "success")
                return redirect(url_for("admin.roles"))
    if form.errors:
        status = 400
    assignments = db.session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.municipality_id == municipality.id)
        .order_by(RoleAssignment.role, RoleAssignment.area_id, RoleAssignment.id)
    ).all()
    return render_template(
        "admin/roles.html",
        form=form,
        assignments=assignments,
        municipality=municipality,
        confirm_form=ConfirmForm(),
    ), status


@bp.route("/roles/<int:assignment_id>/revoke", methods=["GET", "POST"])
@staff_required
def revoke_role(assignment_id: int):
    assignment = db.session.get(RoleAssignment, assignment_id) or abort(404)
    if not is_admin_of(current_user, assignment.municipality_id):
        abort(403)
    form = ConfirmForm()
    if form.validate_on_submit():
        accounts.revoke_role(current_user, assignment)
        flash(_("Role revoked."), "success")
        return redirect(url_for("admin.roles"))
    return render_template("admin/revoke_role.html", assignment=assignment, form=form)
