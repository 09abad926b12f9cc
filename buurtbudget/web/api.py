"""The open-data API, version 1: read-only, public, paginated JSON and CSV files of areas,
budgets, initiatives, voting rounds and results, without personal data. Documented in
docs/api.md (v1 is stable: only additive changes).

Every list answers ``{"data": [...], "meta": {...}, "links": {...}}``; one record answers
``{"data": {...}, "meta": {...}, "links": {"self": ...}}``; errors answer
``{"error", "message", "status"}`` with a 4xx status (web/errors.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence

from flask import Blueprint, Response, jsonify, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from buurtbudget.domain.numbers import INT32_MAX
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import Area, BudgetPeriod, Initiative, VotingRound
from buurtbudget.services import open_data
from buurtbudget.services.errors import NotFound
from buurtbudget.services.voting import comparison as voting_comparison
from buurtbudget.web.params import arg_int
from buurtbudget.web.security import public

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
NOT_A_CHOICE = _l("This is not a valid choice.")
CSV_BATCH = 500


@bp.after_request
def open_to_everyone(response: Response) -> Response:
    # Public data without cookies: any web page may read it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _page_arg(name: str, default: int, maximum: int | None = None) -> int:
    message = (
        _l("per_page must be a whole number from 1 to %(max)s.", max=maximum)
        if maximum
        else _l("page must be a whole number from 1.")
    )
    return arg_int(name, default, minimum=1, maximum=maximum or INT32_MAX, invalid=message)


def _filters(*names: str) -> dict:
    """The query filters a list accepts, checked: ids, year and status."""
    parsers: dict[str, Callable] = {
        "municipality": lambda: arg_int("municipality", invalid=NOT_A_CHOICE),
        "area": lambda: arg_int("area", invalid=NOT_A_CHOICE),
        "year": lambda: open_data.parse_optional_year(request.args.get("year")),
        "status": lambda: open_data.parse_status(request.args.get("status")),
    }
    return {name: parsers[name]() for name in names}


def _query_args(filters: dict) -> dict:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in filters.items() if v is not None}


def _list(endpoint: str, query: Select, records: Callable[[Sequence], list[dict]], filters: dict):
    page_number = _page_arg("page", 1)
    per_page = _page_arg("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    page = db.paginate(query, page=page_number, per_page=per_page, error_out=False, count=True)
    args = _query_args(filters)

    def link(number: int) -> str:
        return url_for(endpoint, page=number, per_page=per_page, **args)

    pages = max(page.pages, 1)
    return jsonify(
        {
            "data": records(page.items),
            "meta": {
                "api_version": open_data.API_VERSION,
                "page": page_number,
                "per_page": per_page,
                "total": page.total,
                "pages": pages,
            },
            "links": {
                "self": link(page_number),
                "first": link(1),
                "last": link(pages),
                "next": link(page_number + 1) if page_number < pages else None,
                "prev": link(min(page_number - 1, pages)) if page_number > 1 else None,
            },
        }
    )


def _one(endpoint: str, record: dict, **values):
    return jsonify(
        {
            "data": record,
            "meta": {"api_version": open_data.API_VERSION},
            "links": {"self": url_for(endpoint, **values)},
        }
    )


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """Plain RFC 4180 CSV (comma, UTF-8, amounts in cents) for machines, streamed."""

    def generate():
        buffer = io.StringIO()
        writer = csv_writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _batched(query: Select, records: Callable[[Sequence], list[dict]]) -> Iterable[dict]:
    """All records of ``query``, built a batch at a time (keyset on id)."""
    last_id = 0
    entity = query.column_descriptions[0]["entity"]
    while True:
        batch = db.session.scalars(query.where(entity.id > last_id).limit(CSV_BATCH)).all()
        if not batch:
            return
        yield from records(batch)
        last_id = batch[-1].id


def _rows(records: Iterable[dict], columns: Sequence[str]) -> Iterable[list]:
    for record in records:
        yield [
            ";".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
            for v in (record[c] for c in columns)
        ]


# Index ---------------------------------------------------------------------------------------


@bp.route("/")
@public
def index():
    resources = ("municipalities", "areas", "budgets", "initiatives", "rounds")
    return jsonify(
        {
            "data": {
                name: {
                    "json": url_for(f"api.{name}"),
                    "csv": url_for(f"api.{name}_csv") if name != "municipalities" else None,
                }
                for name in resources
            }
            | {"results": {"json": None, "csv": url_for("api.results_csv")}},
            "meta": {
                "api_version": open_data.API_VERSION,
                "documentation": "docs/api.md",
                "max_per_page": MAX_PER_PAGE,
            },
            "links": {"self": url_for("api.index")},
        }
    )


# Resources -----------------------------------------------------------------------------------


@bp.route("/municipalities")
@public
def municipalities():
    return _list(
        "api.municipalities", open_data.municipalities_query(), open_data.municipality_records, {}
    )


@bp.route("/areas")
@public
def areas():
    filters = _filters("municipality")
    query = open_data.areas_query(filters["municipality"])
    return _list("api.areas", query, open_data.area_records, filters)


@bp.route("/areas/<int:area_id>")
@public
def area(area_id: int):
    record = open_data.area_records([open_data.get(Area, area_id)])[0]
    return _one("api.area", record, area_id=area_id)


AREA_COLUMNS = ("id", "municipality_id", "name", "cbs_code", "inhabitants")


@bp.route("/areas.csv")
@public
def areas_csv():
    filters = _filters("municipality")
    query = open_data.areas_query(filters["municipality"])
    return _csv("areas", AREA_COLUMNS, _rows(_batched(query, open_data.area_records), AREA_COLUMNS))


BUDGET_COLUMNS = (
    "id",
    "municipality_id",
    "area_id",
    "year",
    "half",
    "model",
    "basis",
    "basis_count",
    "rate_millicents",
    "budget_cents",
    "committed_cents",
    "paid_cents",
    "available_cents",
    "cheques_outstanding_cents",
)


@bp.route("/budgets")
@public
def budgets():
    filters = _filters("municipality", "area", "year")
    query = open_data.budgets_query(filters["municipality"], filters["area"], filters["year"])
    return _list("api.budgets", query, open_data.budget_records, filters)


@bp.route("/budgets/<int:period_id>")
@public
def budget(period_id: int):
    record = open_data.budget_records([open_data.get(BudgetPeriod, period_id)])[0]
    return _one("api.budget", record, period_id=period_id)


@bp.route("/budgets.csv")
@public
def budgets_csv():
    filters = _filters("municipality", "area", "year")
    query = open_data.budgets_query(filters["municipality"], filters["area"], filters["year"])
    records = _batched(query, open_data.budget_records)
    return _csv("budgets", BUDGET_COLUMNS, _rows(records, BUDGET_COLUMNS))


INITIATIVE_COLUMNS = (
    "id",
    "area_id",
    "title",
    "status",
    "funding_route",
    "themes",
    "requested_amount_cents",
    "checked_cost_cents",
    "granted_cents",
    "paid_cents",
    "created_on",
    "status_changed_on",
)


def _initiatives_query() -> tuple[Select, dict]:
    filters = _filters("municipality", "area", "status", "year")
    query = open_data.initiatives_query(
        filters["municipality"], filters["area"], filters["status"], filters["year"]
    )
    return query, filters


@bp.route("/initiatives")
@public
def initiatives():
    query, filters = _initiatives_query()
    return _list("api.initiatives", query, open_data.initiative_records, filters)


@bp.route("/initiatives/<int:initiative_id>")
@public
def initiative(initiative_id: int):
    record = open_data.initiative_records([open_data.get(Initiative, initiative_id)])[0]
    return _one("api.initiative", record, initiative_id=initiative_id)


@bp.route("/initiatives.csv")
@public
def initiatives_csv():
    query, _filters_used = _initiatives_query()
    records = _batched(query, open_data.initiative_records)
    return _csv("initiatives", INITIATIVE_COLUMNS, _rows(records, INITIATIVE_COLUMNS))


@bp.route("/rounds")
@public
def rounds():
    filters = _filters("municipality", "year")
    query = open_data.rounds_query(filters["municipality"], filters["year"])
    return _list("api.rounds", query, open_data.round_records, filters)


@bp.route("/rounds/<int:round_id>")
@public
def round_detail(round_id: int):
    voting_round = open_data.get(VotingRound, round_id)
    record = open_data.round_records([voting_round], with_results=True)[0]
    return _one("api.round_detail", record, round_id=round_id)


@bp.route("/rounds/<int:round_id>/comparison")
@public
def round_comparison(round_id: int):
    """The rules side by side on the round's ballots, once its results are published."""
    voting_round = open_data.get(VotingRound, round_id)
    if not voting_round.is_published:
        raise NotFound(_l("We could not find this page."))
    record = voting_comparison.records(voting_comparison.compare_round(voting_round))
    return _one("api.round_comparison", record, round_id=round_id)


ROUND_COLUMNS = (
    "round_id",
    "municipality_id",
    "title",
    "year",
    "phase",
    "area_id",
    "ballots",
    "inhabitants",
    "turnout",
    "results_published",
)


@bp.route("/rounds.csv")
@public
def rounds_csv():
    """One row per round and area: the turnout."""
    filters = _filters("municipality", "year")
    query = open_data.rounds_query(filters["municipality"], filters["year"])

    def rows():
        for record in _batched(query, open_data.round_records):
            for line in record["turnout"]:
                yield [
                    record["id"],
                    record["municipality_id"],
                    record["title"],
                    record["year"],
                    record["phase"],
                    line["area_id"],
                    line["ballots"],
                    "" if line["inhabitants"] is None else line["inhabitants"],
                    "" if line["turnout"] is None else line["turnout"],
                    record["results_published"],
                ]

    return _csv("rounds", ROUND_COLUMNS, rows())


RESULT_COLUMNS = (
    "round_id",
    "project_id",
    "initiative_id",
    "name",
    "cost_cents",
    "votes",
    "selected",
    "selection_order",
)


@bp.route("/results.csv")
@public
def results_csv():
    """The projects of every published round with their votes."""
    filters = _filters("municipality", "year")
    query = open_data.results_query(filters["municipality"], filters["year"])

    def rows():
        for project in _batched(query, list):
            yield [
                project.round_id,
                project.external_id,
                project.initiative_id or "",
                project.name,
                project.cost_cents,
                "" if project.votes is None else project.votes,
                bool(project.selected),
                "" if project.selection_order is None else project.selection_order,
            ]

    return _csv("results", RESULT_COLUMNS, rows())
