"""The checked rows of a register extract between its preview and the confirmation on the
round's staff page (services/electorate.py reads and writes them).

The rows wait in the instance folder, not in the session: a file per preview whose name
carries the round, the staff member and a random token, so only the same person can confirm
it for the same round. What is kept is what would be written to the elector table: the person
key only as its HMAC, never in clear. A file is deleted when it is confirmed or discarded, and
any file older than ``REGISTER_PREVIEW_MINUTES`` is deleted at the next preview or look-up.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import lazy_gettext as _l

from buurtbudget.domain.addresses import AddressFileError
from buurtbudget.models import User, VotingRound
from buurtbudget.services.electorate import (
    ELECTOR_COLUMNS,
    ElectorateImport,
    RegisterPreview,
    replace_electorate,
    round_fingerprint,
)
from buurtbudget.services.errors import Conflict

FOLDER = "register-previews"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _folder() -> Path:
    folder = Path(current_app.instance_path) / FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _stem(voting_round: VotingRound, user: User, token: str) -> str:
    return f"round{voting_round.id}-user{user.id}-{token}"


def _expiry_seconds() -> float:
    return current_app.config["REGISTER_PREVIEW_MINUTES"] * 60


def sweep() -> int:
    """Delete the previews that were neither confirmed nor discarded in time."""
    deadline = time.time() - _expiry_seconds()
    removed = 0
    for path in _folder().iterdir():
        try:
            if path.stat().st_mtime < deadline:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed by another worker meanwhile
            continue
    return removed


class RowWriter:
    """Writes the elector rows of a preview as they are read (one JSON list a line, gzip)."""

    def __init__(self, voting_round: VotingRound, user: User):
        sweep()
        self.token = secrets.token_urlsafe(24)
        self.stem = _stem(voting_round, user, self.token)
        self.path = _folder() / f"{self.stem}.rows.gz"
        # Readable by this process's user only; open for as long as the preview reads rows.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._raw = os.fdopen(fd, "wb")
        self._file = io.TextIOWrapper(
            gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1), encoding="utf-8"
        )

    def __call__(self, row: dict) -> None:
        self._file.write(json.dumps([row[c] for c in ELECTOR_COLUMNS], separators=(",", ":")))
        self._file.write("\n")

    def finish(
        self, voting_round: VotingRound, preview: RegisterPreview, reference_date: date, name: str
    ) -> None:
        """Close the rows and write what the confirmation needs beside them."""
        self._close()
        meta = {
            "fingerprint": round_fingerprint(voting_round),
            "reference_date": reference_date.isoformat(),
            "file_name": name[:200],
            "electors": preview.electors,
            "outside_areas": preview.outside_areas,
            "too_young": preview.too_young,
            "per_area": {str(k): v for k, v in preview.per_area.items()},
        }
        meta_path = _folder() / f"{self.stem}.json"
        fd = os.open(meta_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(meta, handle)

    def _close(self) -> None:
        self._file.close()  # the gzip stream; the file under it stays open until:
        self._raw.close()

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)


@dataclass
class StoredPreview:
    stem: str
    fingerprint: str
    reference_date: date
    file_name: str
    electors: int
    outside_areas: int
    too_young: int
    per_area: dict[int, int]

    def claim(self) -> bool:
        """Take the rows for one confirmation: of two confirmations at once (a double click,
        two tabs) only one gets them; the other finds them gone."""
        try:
            os.rename(_folder() / f"{self.stem}.rows.gz", _folder() / f"{self.stem}.claimed.gz")
        except FileNotFoundError:
            return False
        return True

    def rows(self) -> Iterator[dict]:
        with gzip.open(_folder() / f"{self.stem}.claimed.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                yield dict(zip(ELECTOR_COLUMNS, json.loads(line), strict=True))

    def delete(self) -> None:
        for suffix in (".rows.gz", ".claimed.gz", ".json"):
            (_folder() / f"{self.stem}{suffix}").unlink(missing_ok=True)


def load(voting_round: VotingRound, user: User, token: str | None) -> StoredPreview | None:
    """The preview ``token`` of this staff member for this round, if it exists and has not
    expired; None otherwise (also for another person's or another round's token)."""
    if not token or not _TOKEN.match(token):
        return None
    sweep()
    stem = _stem(voting_round, user, token)
    meta_path = _folder() / f"{stem}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not (_folder() / f"{stem}.rows.gz").exists():
        return None
    return StoredPreview(
        stem=stem,
        fingerprint=meta["fingerprint"],
        reference_date=date.fromisoformat(meta["reference_date"]),
        file_name=meta["file_name"],
        electors=meta["electors"],
        outside_areas=meta["outside_areas"],
        too_young=meta["too_young"],
        per_area={int(k): v for k, v in meta["per_area"].items()},
    )


def files(voting_round: VotingRound | None = None) -> Iterable[Path]:
    """The preview files now in the instance folder (for tests and the curious)."""
    prefix = f"round{voting_round.id}-" if voting_round is not None else ""
    return sorted(p for p in _folder().iterdir() if p.name.startswith(prefix))


def text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The lines of an uploaded UTF-8 file, decoded as they are read (never the whole file in
    memory); bytes that are not UTF-8 stop it with the line where they are."""
    line_no = 0
    for line_no, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise AddressFileError(line_no, "not_utf8") from None
        yield text.removeprefix("\ufeff") if line_no == 1 else text


def confirm(actor: User, voting_round: VotingRound, stored: StoredPreview) -> int:
    """Replace the round's electorate by a stored preview, then delete it. Refused when the
    round's areas, year or minimum age changed since the preview (upload the file again)."""
    if stored.fingerprint != round_fingerprint(voting_round):
        stored.delete()
        raise Conflict(
            _l(
                "The round's areas or minimum age changed after the preview."
                " Upload the register extract again."
            )
        )
    if not stored.claim():
        raise Conflict(ALREADY_USED)
    summary = ElectorateImport(
        electors=stored.electors,
        outside_areas=stored.outside_areas,
        too_young=stored.too_young,
        per_area=stored.per_area,
    )
    try:
        return replace_electorate(
            actor, voting_round, stored.rows(), summary, stored.reference_date, via="screen"
        )
    finally:
        stored.delete()  # replaced, or refused (frozen meanwhile): upload again either way


ALREADY_USED = _l("This check has expired or was already used. Upload the file again.")
