"""Command line: compute the outcome of a pabulib file.

    python -m buurtbudget.domain.pbcli compute FILE [--rule greedy|greedy_no_skip|mes|mes_add1]
        [--utility cost|cardinality] [--weights-column COLUMN] [--no-caps] [--trace] [--strict]

Without ``--rule`` the file's own META ``rule`` is used (greedy, greedy-threshold,
greedy-no-skip, equalshares, equalshares/add1); a file whose rule the engine does not know gives
exit code 3 and says so. When the file has a ``selected`` column (the official winners), the
output says whether the computed outcome equals it and lists the differences.

Progress and the reader's warnings (e.g. a project listed twice in a ballot, with its line) go to
stderr, the outcome table to stdout. ``--strict`` refuses such files. A malformed file gives exit
code 2 and a single line naming the file, the line number and the problem. The Flask command
(``flask pb compute``) calls :func:`compute_file` or :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from buurtbudget.domain.pabulib import (
    PabulibError,
    project_flags,
    read_pabulib,
    voter_weights_from_column,
)
from buurtbudget.domain.rules import RULES, UTILITIES, Outcome, compute, rule_for_meta
from buurtbudget.domain.rules._common import fmt_amount
from buurtbudget.domain.rules.model import Election

BASE_RULES = ("greedy", "greedy_no_skip", "mes", "mes_add1")
EXIT_BAD_INPUT = 2
EXIT_UNKNOWN_RULE = 3


class UnknownRule(ValueError):
    """The file names a rule the engine does not know, and no rule was given."""


@dataclass(frozen=True)
class OfficialComparison:
    """The computed outcome next to the file's ``selected`` column (the official winners)."""

    equal: bool
    only_computed: tuple[str, ...]  # selected by us, not officially
    only_official: tuple[str, ...]  # selected officially, not by us


def compare_with_official(election: Election, outcome: Outcome) -> OfficialComparison | None:
    """None when the file has no ``selected`` column."""
    official = project_flags(election, "selected")
    if official is None:
        return None
    order = {p.id: i for i, p in enumerate(election.projects)}
    computed, stated = set(outcome.selected), set(official)
    return OfficialComparison(
        equal=computed == stated,
        only_computed=tuple(sorted(computed - stated, key=order.__getitem__)),
        only_official=tuple(sorted(stated - computed, key=order.__getitem__)),
    )


def official_rule(election: Election) -> str:
    """The engine's rule for the file's META ``rule``; :class:`UnknownRule` when it has none."""
    meta_rule = election.meta.get("rule", "").strip()
    rule = rule_for_meta(meta_rule)
    if rule is None:
        raise UnknownRule(
            f"the file's rule {meta_rule or '(none)'!r} cannot be applied by the engine; "
            f"choose one with --rule ({', '.join(BASE_RULES)})"
        )
    return rule


def compute_file(
    path: str,
    rule: str | None = None,
    *,
    utility: str | None = None,
    weights_column: str | None = None,
    caps: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    show_trace: bool = False,
    strict: bool = False,
) -> Outcome:
    """Read ``path``, run ``rule`` (default: the file's own) and print the outcome table to
    ``out``, progress and warnings to ``err``.

    Raises :class:`PabulibError` for a malformed file, :class:`UnknownRule` when no rule is given
    and the file's is unknown, and ``ValueError`` for bad options.
    """
    out = out or sys.stdout
    err = err or sys.stderr

    def progress(message: str) -> None:
        print(message, file=err, flush=True)

    started = time.perf_counter()
    progress(f"reading {path}")
    election = read_pabulib(path, strict=strict)
    progress(
        f"read {len(election.projects)} projects and {election.num_voters:,} ballots "
        f"({election.vote_type}) in {time.perf_counter() - started:.2f} s"
    )
    for warning in election.warnings:
        progress(f"warning: {warning}")
    if rule is None:
        rule = official_rule(election)
        progress(f"rule: {rule} (the file's rule {election.meta.get('rule', '').strip()!r})")
    weights = voter_weights_from_column(election, weights_column) if weights_column else None
    options: dict[str, object] = {}
    if utility is not None:
        options["utility"] = utility
    if rule.startswith("greedy"):
        if not rule.startswith("greedy_no_skip"):
            options["caps"] = caps
    else:
        options["progress"] = progress
    progress(f"computing {rule}" + (f" with {utility} utilities" if utility else ""))
    started = time.perf_counter()
    outcome = compute(rule, election, weights, **options)
    progress(f"done in {time.perf_counter() - started:.2f} s")
    print_outcome(election, outcome, out, show_trace=show_trace)
    return outcome


def print_outcome(
    election: Election, outcome: Outcome, out: TextIO, *, show_trace: bool = False
) -> None:
    projects = {p.id: p for p in election.projects}
    votes = _vote_counts(election)
    rows = [("#", "project", "cost", "votes", "cumulative cost", "name")]
    running = 0
    for position, project_id in enumerate(outcome.selected, start=1):
        project = projects[project_id]
        running += project.cost
        rows.append(
            (
                str(position),
                project_id,
                fmt_amount(project.cost),
                f"{votes[project_id]:,}",
                fmt_amount(running),
                project.name[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {0, 2, 3, 4}
    print(f"rule: {outcome.rule}", file=out)
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip(), file=out)
    print(
        f"selected {len(outcome.selected)} of {len(election.projects)} projects, cost "
        f"{fmt_amount(outcome.total_cost)} of budget {fmt_amount(election.budget)} "
        f"(left over {fmt_amount(outcome.leftover)})",
        file=out,
    )
    comparison = compare_with_official(election, outcome)
    if comparison is not None:
        print(
            "same projects as the file's 'selected' column (the official outcome): "
            f"{'yes' if comparison.equal else 'no'}",
            file=out,
        )
        if comparison.only_computed:
            print(f"  computed, not official: {', '.join(comparison.only_computed)}", file=out)
        if comparison.only_official:
            print(f"  official, not computed: {', '.join(comparison.only_official)}", file=out)
    if show_trace:
        print("trace:", file=out)
        for step in outcome.trace:
            print(f"  {step.project_id}: {step.action}: {step.reason}", file=out)


def _vote_counts(election: Election) -> dict[str, int]:
    counts = [0] * len(election.projects)
    for index in election.ballots.projects.tolist():
        counts[index] += 1
    return {p.id: counts[i] for i, p in enumerate(election.projects)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m buurtbudget.domain.pbcli",
        description="Participatory-budgeting rules on pabulib .pb files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("compute", help="compute and print the outcome of a .pb file")
    run.add_argument("file", help="path of the .pb file")
    run.add_argument(
        "--rule",
        choices=sorted(set(BASE_RULES) | set(RULES)),
        help="voting rule (default: the file's META rule)",
    )
    run.add_argument("--utility", choices=UTILITIES, help="utility for the rule (default: cost)")
    run.add_argument("--weights-column", help="VOTES column holding each voter's weight")
    run.add_argument(
        "--no-caps", action="store_true", help="greedy: ignore category/neighbourhood caps"
    )
    run.add_argument("--trace", action="store_true", help="also print why each project won/lost")
    run.add_argument(
        "--strict",
        action="store_true",
        help="refuse ballots that list a project twice or break the file's ballot rules",
    )
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad file or options)."""
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        compute_file(
            args.file,
            args.rule,
            utility=args.utility,
            weights_column=args.weights_column,
            caps=not args.no_caps,
            out=out,
            err=err,
            show_trace=args.trace,
            strict=args.strict,
        )
    except UnknownRule as error:
        print(f"error: {error}", file=err)
        return EXIT_UNKNOWN_RULE
    except PabulibError as error:
        print(f"error: {error}", file=err)
        return EXIT_BAD_INPUT
    except ValueError as error:
        print(f"error: {error}", file=err)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
