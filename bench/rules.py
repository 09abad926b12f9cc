"""Benchmark: our pabulib parser and rules next to pabutools 1.2.3, in one run.

    .venv/bin/python bench/rules.py [--pabutools-timeout SECONDS] [--files NAME ...] [--ours-only]
                                    [--numpy-only] [--file PATH ...]

Files are read from tests/data/pabulib (in the repository); ``--file`` times any other .pb file.

For Warsaw 2026 and Amsterdam 309 it times parse, greedy, MES and MES+Add1 (cost utilities),
ours (best of several runs) and pabutools' (one run each, in a child process so that a
pabutools run longer than the timeout can be stopped), prints the ratio pabutools / ours, and
checks that both select the same projects in the same order. When a pabutools run is stopped,
the winners are compared with the stored pabutools result
(tests/domain/data/pabutools_reference.json) instead. ``--ours-only`` skips pabutools entirely
and compares with that stored result (seconds instead of minutes). ``--numpy-only`` plays the
MES rounds without the compiled (numba) code, for comparison. The times are warm; the first MES
call of the process, which loads the compiled code from numba's cache (or compiles it after an
install or a change of rules/_mes_kernel.py), is reported below the table.

Targets (Warsaw 2026): parse <= 0.5 s, greedy <= 0.05 s, MES+Add1 <= 0.6 s, and the whole
rule comparison (greedy, MES, MES+Add1 with voters reached, money per area and EJR up to one,
``buurtbudget.domain.rules.comparison``) < 1 s. Each row gives the best wall time and the best
CPU time of the process: on a machine shared with others the wall time also counts the waits for
a CPU, the CPU time does not; a target counts as met when either is within it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from buurtbudget.domain.pabulib import read_pabulib  # noqa: E402
from buurtbudget.domain.rules import compute  # noqa: E402
from buurtbudget.domain.rules.comparison import compare_rules  # noqa: E402

PABULIB_DIR = ROOT / "tests" / "data" / "pabulib"
REFERENCE = ROOT / "tests" / "domain" / "data" / "pabutools_reference.json"
FILES = ["Poland_Warszawa_2026.pb", "Netherlands_Amsterdam_309.pb"]
TARGETS = {("Poland_Warszawa_2026.pb", "parse"): 0.5, ("Poland_Warszawa_2026.pb", "greedy"): 0.05}
TARGETS[("Poland_Warszawa_2026.pb", "mes_add1")] = 0.6
TARGETS[("Poland_Warszawa_2026.pb", "comparison")] = 1.0
STEPS = ["parse", "greedy", "mes", "mes_add1"]
CPU: dict[tuple[str, str], float] = {}  # (file, step) -> best CPU seconds


def best_time(function, repeat: int, key: tuple[str, str] | None = None):
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    if key is not None:
        CPU[key] = best_cpu
    return best, result


FIRST_MES_CALL: list[float] = []  # seconds of the first MES call in this process


def ours(path: Path, compiled: bool = True) -> dict[str, tuple[float, list[str] | None]]:
    results: dict[str, tuple[float, list[str] | None]] = {}
    seconds, election = best_time(lambda: read_pabulib(path), 3, (path.name, "parse"))
    results["parse"] = (seconds, None)
    if not FIRST_MES_CALL:
        FIRST_MES_CALL.append(best_time(lambda: compute("mes", election, compiled=compiled), 1)[0])
    for step, repeat in (("greedy", 5), ("mes", 3), ("mes_add1", 3)):
        # pabutools knows no caps or thresholds: compare the plain rules.
        options = {"caps": False} if step == "greedy" else {"compiled": compiled}
        seconds, outcome = best_time(
            lambda s=step, o=options: compute(s, election, **o), repeat, (path.name, step)
        )
        results[step] = (seconds, list(outcome.selected))
    seconds, _rows = best_time(lambda: compare_rules(election), 3, (path.name, "comparison"))
    results["comparison"] = (seconds, None)
    return results


def _pabutools_child(step: str, parsed, connection) -> None:
    from pabutools.election import Cost_Sat
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

    instance, profile = parsed
    started = time.perf_counter()
    if step == "greedy":
        result = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
    elif step == "mes":
        result = method_of_equal_shares(instance, profile, sat_class=Cost_Sat)
    else:
        result = method_of_equal_shares(
            instance, profile, sat_class=Cost_Sat, voter_budget_increment=1
        )
    connection.send((time.perf_counter() - started, [p.name for p in result]))


def pabutools(path: Path, timeout: float) -> dict[str, tuple[float | None, list[str] | None]]:
    from pabutools.election import parse_pabulib

    results: dict[str, tuple[float | None, list[str] | None]] = {}
    started = time.perf_counter()
    parsed = parse_pabulib(str(path))
    results["parse"] = (time.perf_counter() - started, None)
    context = multiprocessing.get_context("fork")  # the child inherits the parsed profile
    for step in STEPS[1:]:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_pabutools_child, args=(step, parsed, sender))
        child.start()
        if receiver.poll(timeout):
            results[step] = receiver.recv()
        else:
            results[step] = (None, None)
        child.terminate()
        child.join()
    return results


def stored_reference(name: str, step: str) -> list[str] | None:
    if not REFERENCE.exists():
        return None
    entry = json.loads(REFERENCE.read_text())["results"].get(f"{name}|{step}|cost|unweighted")
    return entry["selected"] if entry else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pabutools-timeout", type=float, default=600.0)
    parser.add_argument(
        "--files",
        nargs="*",
        default=FILES,
        help="names in tests/data/pabulib, or paths to .pb files elsewhere (big files)",
    )
    parser.add_argument(
        "--file", action="append", default=[], help="a .pb file anywhere (repeatable)"
    )
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="time only our side; compare winners with the stored pabutools result",
    )
    parser.add_argument(
        "--numpy-only", action="store_true", help="MES rounds without the compiled (numba) code"
    )
    args = parser.parse_args(argv)

    rows = [
        (
            "file",
            "step",
            "ours (s)",
            "ours CPU (s)",
            "pabutools (s)",
            "ratio",
            "same winners",
            "target",
        )
    ]
    all_ok = True
    for given in args.file or args.files:
        path = Path(given) if ("/" in given or given in args.file) else PABULIB_DIR / given
        name = path.name
        print(f"timing {name} ...", file=sys.stderr, flush=True)
        mine = ours(path, compiled=not args.numpy_only)
        if args.ours_only:
            theirs = dict.fromkeys(STEPS, (None, None))
        else:
            theirs = pabutools(path, args.pabutools_timeout)
        theirs["comparison"] = (None, None)
        for step in [*STEPS, "comparison"]:
            my_seconds, my_selected = mine[step]
            their_seconds, their_selected = theirs[step]
            if args.ours_only or step == "comparison":
                their_text = ratio = "-"
            elif their_seconds is None:
                their_text = f"> {args.pabutools_timeout:.0f}"
                ratio = f"> {args.pabutools_timeout / my_seconds:.0f}x"
            else:
                their_text = f"{their_seconds:.3f}"
                ratio = f"{their_seconds / my_seconds:.0f}x"
            if step in ("parse", "comparison"):
                same = "-"
            elif their_selected is not None:
                same = "yes" if my_selected == their_selected else "NO"
            else:
                stored = stored_reference(name, step)
                if stored is None:
                    same = "unknown"
                else:
                    same = "yes (stored)" if my_selected == stored else "NO (stored)"
            target = TARGETS.get((name, step))
            if target is None:
                target_text = "-"
            else:
                met = min(my_seconds, CPU[(name, step)]) <= target
                target_text = f"<= {target:g} s: {'met' if met else 'MISSED'}"
                all_ok = all_ok and met
            all_ok = all_ok and not same.startswith("NO")
            cpu = f"{CPU[(name, step)]:.3f}"
            rows.append(
                (name, step, f"{my_seconds:.3f}", cpu, their_text, ratio, same, target_text)
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print(f"first MES call in this process (incl. loading or compiling): {FIRST_MES_CALL[0]:.3f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
