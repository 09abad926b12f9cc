"""Images and PDFs of initiatives, stored on disk under random names.

The type is decided by the file's first bytes (domain.file_types), never by its name or the
Content-Type the browser sent; size and count are limited by ``ATTACHMENT_MAX_BYTES`` and
``ATTACHMENTS_PER_INITIATIVE``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from buurtbudget.domain import initiative_lifecycle as lifecycle
from buurtbudget.domain.file_types import SNIFF_BYTES, sniff_file_type
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Initiative, PayoutReceipt, User
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.initiatives import actors_for, require_view
from buurtbudget.services.permissions import require

ORIGINAL_NAME_MAX = 200


def size_text(size_bytes: int) -> str:
    """A file size for people: whole MB from 1 MB up, else kB (rounded up)."""
    if size_bytes >= 1024 * 1024:
        return f"{size_bytes / 1024 / 1024:g} MB"
    return f"{-(-size_bytes // 1024)} kB"


def upload_folder() -> Path:
    configured = current_app.config.get("UPLOAD_FOLDER")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_of(attachment: Attachment) -> Path:
    return upload_folder() / attachment.stored_name


def can_manage_attachments(user: User | None, initiative: Initiative) -> bool:
    """The initiator and the area's staff, until the initiative is closed."""
    return bool(actors_for(user, initiative)) and initiative.status not in lifecycle.FINAL_STATUSES


def add_attachment(
    actor: User, initiative: Initiative, stream: BinaryIO, filename: str
) -> Attachment:
    require(can_manage_attachments(actor, initiative))
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    if len(initiative.attachments) >= current_app.config["ATTACHMENTS_PER_INITIATIVE"]:
        raise Conflict(
            _l(
                "An initiative can have at most %(n)d attachments.",
                n=current_app.config["ATTACHMENTS_PER_INITIATIVE"],
            ),
            field="file",
        )
    content = stream.read(limit + 1)
    if not content:
        raise ValidationFailed(_l("The file is empty."), field="file")
    if len(content) > limit:
        raise ValidationFailed(
            _l("The file is larger than %(size)s.", size=size_text(limit)), field="file"
        )
    file_type = sniff_file_type(content[:SNIFF_BYTES])
    if file_type is None:
        raise ValidationFailed(
            _l("Only PNG, JPEG and WebP images and PDF documents can be uploaded."), field="file"
        )
    stored_name = f"{secrets.token_hex(16)}.{file_type.extension}"
    original_name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    original_name = original_name[:ORIGINAL_NAME_MAX] or stored_name
    target = upload_folder() / stored_name
    target.write_bytes(content)
    attachment = Attachment(
        initiative=initiative,
        stored_name=stored_name,
        original_name=original_name,
        content_type=file_type.content_type,
        size_bytes=len(content),
        uploaded_by_id=actor.id,
    )
    db.session.add(attachment)
    try:
        db.session.flush()
        audit.record(
            actor,
            "initiative.attachment_added",
            attachment,
            municipality_id=initiative.municipality_id,
            initiative_id=initiative.id,
            size_bytes=len(content),
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        target.unlink(missing_ok=True)
        raise
    return attachment


def is_payout_receipt(attachment: Attachment) -> bool:
    return (
        db.session.scalar(
            select(PayoutReceipt.payout_request_id)
            .where(PayoutReceipt.attachment_id == attachment.id)
            .limit(1)
        )
        is not None
    )


def remove_attachment(actor: User, attachment: Attachment) -> None:
    initiative = attachment.initiative
    require(can_manage_attachments(actor, initiative))
    if is_payout_receipt(attachment):
        raise Conflict(_l("This file is the receipt of a payout request and is kept as evidence."))
    path = path_of(attachment)
    audit.record(
        actor,
        "initiative.attachment_removed",
        attachment,
        municipality_id=initiative.municipality_id,
        initiative_id=initiative.id,
    )
    db.session.delete(attachment)
    db.session.commit()
    path.unlink(missing_ok=True)


def require_download(user: User | None, attachment: Attachment) -> Path:
    """The file's path if ``user`` may see the initiative (drafts: initiator and staff)."""
    require_view(user, attachment.initiative)
    return path_of(attachment)
