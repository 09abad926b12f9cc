"""Long lists, one page at a time (rendered with the ``pagination`` macro of _macros.html)."""

from __future__ import annotations

from flask import current_app

from buurtbudget.extensions import db
from buurtbudget.web.params import arg_int


def paginate(query):
    """One page of ``query`` (page number from ?page=, PAGE_SIZE rows); a page number past the
    end gives an empty page, one that is not a whole number from 1 a 400 with a message."""
    page = arg_int("page", 1, minimum=1)
    return db.paginate(query, page=page, per_page=current_app.config["PAGE_SIZE"], error_out=False)
