"""Report files: the area report (wijkverslag) as PDF, and the municipality summary as CSV
and PDF. The figures come from services/budget_reports.py (one area and period) and
services/monitoring.py (all areas of a year); this module only lays them out.

PDFs are drawn with fpdf2 (pure Python, maintained, LGPL) in A4 with the standard Helvetica
font, so no font files are needed; its Windows-1252 encoding covers Dutch text and the euro
sign. Characters outside it (rare in names) are replaced by "?".
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from buurtbudget.domain.budget import csv_euros, format_rate
from buurtbudget.domain.monitoring import percent
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.services.budget_reports import AreaFinances
from buurtbudget.services.monitoring import SIGNAL_LABELS, MunicipalityOverview
from buurtbudget.web.budgets import ACCOUNT_LABELS, MODEL_LABELS, SPEND_KIND_LABELS
from buurtbudget.web.formatting import format_cents

ENCODING = "windows-1252"
MONEY_COLUMNS = ("RIGHT",)


def _text(value: object) -> str:
    """Text the PDF's standard font can show."""
    return str(value).encode(ENCODING, "replace").decode(ENCODING)


def _percent_text(fraction) -> str:
    value = percent(fraction)
    return "–" if value is None else f"{value:.1f}%".replace(".", ",")


class _Report(FPDF):
    """A4 portrait, a running footer with the page number."""

    def __init__(self, title: str):
        super().__init__(format="A4")
        self.core_fonts_encoding = ENCODING
        self.report_title = _text(title)
        self.set_title(self.report_title)
        self.set_creator("Buurtbudget")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        self.add_page()
        self.set_font("Helvetica", "B", 18)
        self.multi_cell(0, 9, self.report_title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"{self.report_title} · {self.page_no()}", align="C")

    def heading(self, text: str) -> None:
        self.ln(4)
        self.set_font("Helvetica", "B", 13)
        self.multi_cell(0, 7, _text(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def paragraph(self, text: str) -> None:
        self.multi_cell(0, 5, _text(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def grid(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        widths: Sequence[int],
        *,
        footer: Sequence[object] | None = None,
    ) -> None:
        """A table; every column after the first is right-aligned (amounts and counts)."""
        align = ["LEFT"] + ["RIGHT"] * (len(header) - 1)
        self.set_font("Helvetica", size=9)
        with self.table(
            col_widths=widths,
            text_align=align,
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 236, 233)),
            line_height=5,
            padding=1,
        ) as table:
            for line in [header, *rows, *([footer] if footer else [])]:
                row = table.row()
                for value in line:
                    row.cell(_text(value))
        self.set_font("Helvetica", size=10)

    def bytes(self) -> bytes:
        return bytes(self.output())


# The area report (wijkverslag) ---------------------------------------------------------------


def area_report_pdf(f: AreaFinances) -> bytes:
    """The wijkverslag of one area and period: the same sections as the HTML report."""
    period, area = f.period, f.area
    pdf = _Report(_("Area report %(period)s of %(area)s", period=period.label, area=area.name))
    pdf.paragraph(
        f"{area.municipality.name} · {MODEL_LABELS.get(period.model_kind, period.model_kind)}"
        f" · {format_date(period.starts_on)} – {format_date(period.ends_on)}"
    )
    if f.report and f.report.published_at:
        pdf.paragraph(_("Published on %(date)s.", date=format_date(f.report.published_at)))
    else:
        pdf.paragraph(
            _(
                "Draft: the coordinator has not published this report yet."
                " The figures are up to date."
            )
        )
    if f.report and f.report.summary:
        pdf.heading(_("Account by the coordinator"))
        pdf.paragraph(f.report.summary)

    if period.basis_count:
        pdf.heading(_("How the budget was calculated"))
        figures = {
            "count": period.basis_count,
            "year": period.population_year,
            "rate": format_rate(period.rate_millicents),
            "amount": format_cents(period.amount_cents),
        }
        if period.basis and period.basis.value == "per_household":
            text = _(
                "%(count)s households (figures of %(year)s) × EUR %(rate)s per household"
                " = %(amount)s",
                **figures,
            )
        else:
            text = _(
                "%(count)s inhabitants (figures of %(year)s) × EUR %(rate)s per inhabitant"
                " = %(amount)s",
                **figures,
            )
        pdf.paragraph(text)

    pdf.heading(_("Totals"))
    money = format_cents
    pdf.grid(
        [_("Pot"), _("Budget"), _("Committed"), _("Paid"), _("Available")],
        [
            [
                ACCOUNT_LABELS.get(account.kind, account.kind),
                money(b.budget),
                money(b.committed),
                money(b.paid),
                money(b.available),
            ]
            for account, b in f.pots
        ],
        (50, 30, 30, 30, 34),
        footer=[
            _("Total"),
            money(f.total.budget),
            money(f.total.committed),
            money(f.total.paid),
            money(f.total.available),
        ],
    )

    pdf.heading(_("Per initiative"))
    if f.initiatives:
        pdf.grid(
            [_("Initiative"), _("Themes"), _("Kind"), _("Granted"), _("Paid")],
            [
                [
                    line.initiative.title,
                    ", ".join(t.name for t in line.initiative.themes),
                    SPEND_KIND_LABELS.get(line.spend_kind, _("untagged")),
                    money(line.money.granted),
                    money(line.money.paid),
                ]
                for line in f.initiatives
            ],
            (62, 38, 22, 26, 26),
        )
    else:
        pdf.paragraph(_("No money has gone to initiatives yet."))
    if f.direct:
        pdf.heading(_("Spending without an initiative"))
        pdf.grid(
            [_("Purpose"), _("Date"), _("Pot"), _("Paid")],
            [
                [
                    item.entry.memo,
                    format_date(item.entry.at),
                    ACCOUNT_LABELS.get(item.account_kind, item.account_kind),
                    money(item.entry.amount_cents),
                ]
                for item in f.direct
            ],
            (80, 30, 34, 30),
        )

    pdf.heading(_("Per theme"))
    if f.themes:
        pdf.grid(
            [_("Theme"), _("Granted"), _("Paid")],
            [[t.name, money(t.granted), money(t.paid)] for t in f.themes],
            (94, 40, 40),
        )
        pdf.paragraph(_("An initiative with several themes counts for each theme in equal parts."))
    else:
        pdf.paragraph(_("Nothing spent yet."))

    if f.social_target is not None:
        pdf.heading(_("Physical and social spending"))
        pdf.grid(
            [_("Kind"), _("Granted")],
            [
                [_("Physical"), money(f.by_kind["physical"])],
                [_("Social"), money(f.by_kind["social"])],
            ],
            (94, 40),
        )
        if f.social_share is None:
            pdf.paragraph(
                _(
                    "No spending has been tagged yet. Target share of social measures:"
                    " %(target)s%%.",
                    target=f.social_target,
                )
            )
        else:
            pdf.paragraph(
                _(
                    "Social measures: %(share)s%% of spending; target %(target)s%%.",
                    share=f.social_share,
                    target=f.social_target,
                )
            )

    if f.meeting_check:
        pdf.heading(_("Public meetings of the area council in %(year)s", year=f.meeting_check.year))
        pdf.paragraph(
            _(
                "%(held)s of the at least %(minimum)s meetings a year took place.",
                held=f.meeting_check.held,
                minimum=f.meeting_check.minimum,
            )
        )

    pdf.heading(_("Unspent"))
    pdf.paragraph(_("Not spent and not committed: %(amount)s.", amount=money(f.total.available)))
    return pdf.bytes()


# The municipality summary --------------------------------------------------------------------


def _csv_percent(fraction) -> str:
    value = percent(fraction)
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def summary_csv(o: MunicipalityOverview) -> str:
    """One row per area and a total (semicolon separated, decimal comma, euros)."""
    out = io.StringIO()
    writer = csv_writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            _("area"),
            _("inhabitants"),
            _("budget"),
            _("committed"),
            _("paid"),
            _("available"),
            _("spent per inhabitant"),
            _("rounds"),
            _("ballots"),
            _("turnout %"),
            _("initiatives"),
            _("projects"),
            _("council meetings"),
            _("signals"),
        ]
    )
    for r in o.rows:
        writer.writerow(
            [
                r.area.name,
                r.inhabitants if r.inhabitants is not None else "",
                csv_euros(r.balance.budget),
                csv_euros(r.balance.committed),
                csv_euros(r.balance.paid),
                csv_euros(r.balance.available),
                csv_euros(r.spent_per_inhabitant),
                r.rounds,
                r.ballots,
                _csv_percent(r.turnout),
                r.initiatives,
                r.projects,
                r.meetings_held,
                ", ".join(str(SIGNAL_LABELS[s]) for s in r.signals),
            ]
        )
    t = o.total
    writer.writerow(
        [
            _("total"),
            o.inhabitants,
            csv_euros(t.budget),
            csv_euros(t.committed),
            csv_euros(t.paid),
            csv_euros(t.available),
            csv_euros(o.spent_per_inhabitant),
            sum(r.rounds for r in o.rows),
            sum(r.ballots for r in o.rows),
            _csv_percent(o.turnout),
            sum(r.initiatives for r in o.rows),
            sum(r.projects for r in o.rows),
            sum(r.meetings_held for r in o.rows),
            "",
        ]
    )
    return out.getvalue()


def summary_pdf(o: MunicipalityOverview, today: date | None = None) -> bytes:
    money = format_cents
    pdf = _Report(
        _("Summary %(year)s of %(municipality)s", year=o.year, municipality=o.municipality.name)
    )
    pdf.paragraph(
        _(
            "Made on %(date)s from the records of Buurtbudget.",
            date=format_date(today or date.today()),
        )
    )
    pdf.heading(_("Money per area"))
    pdf.grid(
        [_("Area"), _("Inhabitants"), _("Budget"), _("Committed"), _("Paid"), _("Available")],
        [
            [
                r.area.name,
                r.inhabitants if r.inhabitants is not None else "–",
                money(r.balance.budget),
                money(r.balance.committed),
                money(r.balance.paid),
                money(r.balance.available),
            ]
            for r in o.rows
        ],
        (40, 22, 28, 28, 28, 28),
        footer=[
            _("Total"),
            o.inhabitants,
            money(o.total.budget),
            money(o.total.committed),
            money(o.total.paid),
            money(o.total.available),
        ],
    )
    pdf.heading(_("Participation per area"))
    pdf.grid(
        [
            _("Area"),
            _("Spent per inhabitant"),
            _("Ballots"),
            _("Turnout"),
            _("Initiatives"),
            _("Meetings"),
        ],
        [
            [
                r.area.name,
                money(r.spent_per_inhabitant),
                r.ballots,
                _percent_text(r.turnout),
                r.initiatives,
                r.meetings_held,
            ]
            for r in o.rows
        ],
        (40, 30, 24, 24, 28, 28),
    )
    pdf.heading(_("Areas that lag behind"))
    if o.lagging:
        for r in o.lagging:
            pdf.paragraph(f"{r.area.name}: " + ", ".join(str(SIGNAL_LABELS[s]) for s in r.signals))
    else:
        pdf.paragraph(_("No area lags behind on the measured signals."))
    return pdf.bytes()
