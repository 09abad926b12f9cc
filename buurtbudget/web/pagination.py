"""Long lists, one page at a time (rendered with the ``pagination`` macro of _macros.html)."""

from __future__ import annotations

from flask import current_app

from buurtbudget.extensions import db


def paginate(query):
    """One page of ``query`` (page number from ?page=, PAGE_SIZE rows); a page number past the
    end or not a number gives an empty or the first page, never an error."""
    return db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
