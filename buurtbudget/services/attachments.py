"""Images and PDFs of initiatives, stored on disk under random names.

Every uploaded file passes :func:`check_upload`, also the receipts of direct spending
(services/direct_spending.py), so a check added there holds for all uploads. The type is
decided by the file's first bytes (domain.file_types), never by its name or the Content-Type
the browser sent; size and count are limited by ``ATTACHMENT_MAX_BYTES`` and
``ATTACHMENTS_PER_INITIATIVE``.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from buurtbudget.domain import initiative_lifecycle as lifecycle
from buurtbudget.domain.file_types import (
    SNIFF_BYTES,
    FileType,
    pdf_has_active_content,
    safe_original_name,
    sniff_file_type,
)
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Initiative, PayoutReceipt, User
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.initiatives import actors_for, require_view
from buurtbudget.services.permissions import can_read_area_finances, has_interest, require

ORIGINAL_NAME_MAX = 200
# Larger images (in pixels) are refused before decoding: a small file can unpack to gigabytes.
MAX_IMAGE_PIXELS = 40_000_000


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


def _lock_initiative(initiative: Initiative) -> None:
    """Serialise uploads to one initiative before counting its files (as
    ledger.lock_account does for money): a write first takes the row lock on PostgreSQL and
    the write lock on SQLite, so parallel uploads cannot all see room for one more."""
    db.session.execute(
        update(Initiative)
        .where(Initiative.id == initiative.id)
        .values(requested_amount_cents=Initiative.requested_amount_cents)
        .execution_options(synchronize_session=False)
    )


def _count_attachments(initiative: Initiative) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.initiative_id == initiative.id)
    )


def without_metadata(content: bytes, file_type: FileType, *, field: str = "file") -> bytes:
    """The image decoded and written anew with Pillow: no EXIF (GPS position, camera, date),
    no XMP or text chunks, nothing appended after the image data (so no HTML polyglot
    survives). A photo taken sideways is turned upright first, as its EXIF said."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    unreadable = ValidationFailed(_l("This image cannot be read."), field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as opened:
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise unreadable
                opened.load()
                image = ImageOps.exif_transpose(opened)
                transparency = image.info.get("transparency")
                image.info = {} if transparency is None else {"transparency": transparency}
                out = io.BytesIO()
                if file_type.extension == "jpg":
                    if image.mode not in ("RGB", "L", "CMYK"):
                        image = image.convert("RGB")
                    image.save(out, "JPEG", quality=90, exif=b"")
                elif file_type.extension == "webp":
                    image.save(out, "WEBP", quality=90, exif=b"")
                else:
                    image.save(out, "PNG")
    except (
        OSError,
        ValueError,
        SyntaxError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise unreadable from None
    return out.getvalue()


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded file that passed :func:`check_upload`: its content as it will be stored, its
    real type, a random name to store it under and the sender's name, made harmless."""

    content: bytes
    file_type: FileType
    stored_name: str
    original_name: str


def check_upload(stream: BinaryIO | None, filename: str, *, field: str = "file") -> CheckedUpload:
    """Every check an uploaded file gets, for attachments, payout receipts and direct-spending
    receipts alike: size, type by its first bytes, image metadata stripped, no PDF with scripts,
    a name that ends in what the file really is. ``field``: the form field errors belong to."""
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    content = stream.read(limit + 1) if stream is not None else b""
    if not content:
        raise ValidationFailed(_l("The file is empty."), field=field)
    if len(content) > limit:
        raise ValidationFailed(
            _l("The file is larger than %(size)s.", size=size_text(limit)), field=field
        )
    file_type = sniff_file_type(content[:SNIFF_BYTES])
    if file_type is None:
        raise ValidationFailed(
            _l("Only PNG, JPEG and WebP images and PDF documents can be uploaded."), field=field
        )
    if file_type.is_image:
        content = without_metadata(content, file_type, field=field)
    elif pdf_has_active_content(content):
        raise ValidationFailed(
            _l("PDF documents with scripts or automatic actions cannot be uploaded."),
            field=field,
        )
    stored_name = f"{secrets.token_hex(16)}.{file_type.extension}"
    original_name = safe_original_name(filename, file_type, stored_name)[:ORIGINAL_NAME_MAX]
    return CheckedUpload(content, file_type, stored_name, original_name)


def store(upload: CheckedUpload) -> Path:
    """Write a checked upload to the upload folder; the caller removes it again when its
    database row is not committed."""
    target = upload_folder() / upload.stored_name
    target.write_bytes(upload.content)
    return target


def add_attachment(
    actor: User, initiative: Initiative, stream: BinaryIO, filename: str
) -> Attachment:
    require(can_manage_attachments(actor, initiative))
    _lock_initiative(initiative)
    if _count_attachments(initiative) >= current_app.config["ATTACHMENTS_PER_INITIATIVE"]:
        raise Conflict(
            _l(
                "An initiative can have at most %(n)d attachments.",
                n=current_app.config["ATTACHMENTS_PER_INITIATIVE"],
            ),
            field="file",
        )
    upload = check_upload(stream, filename)
    target = store(upload)
    attachment = Attachment(
        initiative=initiative,
        stored_name=upload.stored_name,
        original_name=upload.original_name,
        content_type=upload.file_type.content_type,
        size_bytes=len(upload.content),
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
            size_bytes=len(upload.content),
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


def can_see_receipts(user: User | None, initiative: Initiative) -> bool:
    """Payout receipts: the initiative's people (initiator, working group), its area council
    and the area's staff; nobody else, also not once the request is rejected."""
    return has_interest(user, initiative) or can_read_area_finances(user, initiative.area)


def receipt_ids(initiative: Initiative) -> set[int]:
    return set(
        db.session.scalars(
            select(PayoutReceipt.attachment_id)
            .join(Attachment, Attachment.id == PayoutReceipt.attachment_id)
            .where(Attachment.initiative_id == initiative.id)
        )
    )


def visible_attachments(user: User | None, initiative: Initiative) -> list[Attachment]:
    """The files of the initiative ``user`` may see listed (receipts only for those above)."""
    if can_see_receipts(user, initiative):
        return list(initiative.attachments)
    hidden = receipt_ids(initiative)
    return [a for a in initiative.attachments if a.id not in hidden]


def require_download(user: User | None, attachment: Attachment) -> Path:
    """The file's path if ``user`` may see the initiative (drafts: initiator and staff) and,
    for a payout receipt, its receipts; otherwise "not found", as if there were none."""
    require_view(user, attachment.initiative)
    if is_payout_receipt(attachment) and not can_see_receipts(user, attachment.initiative):
        raise NotFound(_l("We could not find this file."))
    return path_of(attachment)
