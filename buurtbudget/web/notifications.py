"""The user's notifications, and their unread count in the page header."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from buurtbudget.services import notifications
from buurtbudget.web.forms import ConfirmForm, require_confirmation
from buurtbudget.web.pagination import paginate
from buurtbudget.web.security import login_required

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def inject_unread_count():
    if current_user and current_user.is_authenticated:
        return {"unread_notifications": notifications.unread_count(current_user)}
    return {"unread_notifications": 0}


@bp.app_template_global()
def notification_text(notification) -> str:
    return notifications.render(notification)


@bp.app_template_global()
def notification_link(notification) -> str | None:
    target = notifications.link_target(notification)
    return url_for(target[0], **target[1]) if target else None


@bp.route("")
@login_required
def index():
    page = paginate(notifications.for_user(current_user))
    return render_template("notifications/index.html", page=page, form=ConfirmForm())


@bp.route("/read", methods=["POST"])
@login_required
def mark_read():
    require_confirmation()
    notifications.mark_all_read(current_user)
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for(".index"))
