"""`make bench`: run every benchmark, print the table, exit non-zero when a bar is missed.

python -m bench            # everything
python -m bench --quick    # fewer rounds
python -m bench overhead   # only the named benchmarks
python -m bench --write    # also put the rows into docs/BENCHMARKS.md (rows of the
                           # benchmarks not run this time are kept)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import psutil

from bench.common import Row

BENCHMARKS = [
    "layout",
    "overhead",
    "overhead_workers",
    "endpoints",
    "attribution",
    "stack_sampler",
    "memory_analysis",
    "live_feed",
    "live_feed_redis",
    "footprint",
]


def machine() -> str:
    freq = psutil.cpu_freq()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores"
        + (f" @ {freq.max or freq.current:.0f} MHz" if freq else "")
        + f", {psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


HEADER = ["| benchmark | figure | value | bar | ok |", "|---|---|---|---|---|"]


def render_row(bench: str, row: Row) -> str:
    ok = "" if row.ok is None else ("yes" if row.ok else "**NO**")
    value = row.value + (f" ({row.detail})" if row.detail else "")
    return f"| {bench} | {row.name} | {value} | {row.bar} | {ok} |"


def render(rows: list[tuple[str, Row]]) -> str:
    return "\n".join([*HEADER, *(render_row(bench, row) for bench, row in rows)])


def run_benchmarks(
    names: list[str], quick: bool, importer: Callable[[str], ModuleType] = importlib.import_module
) -> tuple[list[tuple[str, Row]], list[str]]:
    """Run each named benchmark; return its rows and the names that do not exist.

    A benchmark that raises gives a failed row with the error, and the others still run.
    """
    rows: list[tuple[str, Row]] = []
    missing = []
    for name in names:
        try:
            module = importer(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                missing.append(name)
                continue
            raise
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend((name, row) for row in module.run(quick=quick))
        except Exception as exc:
            traceback.print_exc()
            rows.append(
                (name, Row("benchmark run", f"failed: {type(exc).__name__}: {exc}", "completes", False))
            )
    return rows, missing


def run_isolated(names: list[str], quick: bool) -> tuple[list[tuple[str, Row]], list[str]]:
    """Run each named benchmark in a process of its own; return its rows and the names that do not exist.

    One benchmark's leftovers (objects it kept alive, threads, imported modules) never
    weigh on the next: the leak analysis is measured against the objects of its own
    process, as a service would hold them, not the other benchmarks' as well.
    """
    rows: list[tuple[str, Row]] = []
    missing = []
    for name in names:
        try:
            found_spec = importlib.util.find_spec(f"bench.{name}")
        except ModuleNotFoundError:  # a dotted name under a package that does not exist
            found_spec = None
        if found_spec is None:
            missing.append(name)
            continue
        with tempfile.TemporaryDirectory(prefix="riptide-bench-rows-") as tmp:
            out = Path(tmp) / "rows.json"
            command = [sys.executable, "-m", "bench", "--in-process", "--rows-json", str(out), name]
            done = subprocess.run([*command, *(["--quick"] if quick else [])], check=False)
            try:
                found = [Row(**fields) for fields in json.loads(out.read_text())]
            except (OSError, ValueError, TypeError) as exc:
                found = [
                    Row("benchmark run", f"failed: exit status {done.returncode} ({exc})", "completes", False)
                ]
        rows.extend((name, row) for row in found)
    return rows, missing


def bars_missed(rows: list[tuple[str, Row]]) -> list[tuple[str, Row]]:
    return [(bench, row) for bench, row in rows if row.ok is False]


def exit_code(rows: list[tuple[str, Row]], missing: list[str]) -> int:
    """1 when a bar is missed, a benchmark failed or a named one does not exist, else 0."""
    return 1 if bars_missed(rows) or missing else 0


RESULTS_FILE = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
RUN_PREFIX = "- run of "


def merge_section(previous: str, machine_line: str, runs: dict[str, str], rows: list[tuple[str, Row]]) -> str:
    """The results section: the new rows and runs, plus those of benchmarks not run this time.

    `runs` maps each benchmark run now to its line (when, command). Rows and run lines
    of other benchmarks are kept from `previous`, so benchmarks can be run one at a time.
    """
    kept_runs: dict[str, str] = {}
    kept_rows: dict[str, list[str]] = {}
    for line in previous.splitlines():
        if line.startswith(RUN_PREFIX):
            bench = line[len(RUN_PREFIX) :].split(":", 1)[0].strip("`")
            if bench not in runs:
                kept_runs[bench] = line
        elif line.startswith("| ") and line not in HEADER:
            bench = line[2:].split(" |", 1)[0]
            if bench not in runs:
                kept_rows.setdefault(bench, []).append(line)
    new_rows: dict[str, list[str]] = {}
    for bench, row in rows:
        new_rows.setdefault(bench, []).append(render_row(bench, row))
    run_lines = {**kept_runs, **{bench: f"{RUN_PREFIX}`{bench}`: {text}" for bench, text in runs.items()}}
    all_rows = {**kept_rows, **new_rows}

    def order(bench: str) -> tuple[int, str]:
        return (BENCHMARKS.index(bench) if bench in BENCHMARKS else len(BENCHMARKS), bench)

    lines = [machine_line, ""]
    lines += [run_lines[bench] for bench in sorted(run_lines, key=order)]
    lines += ["", *HEADER]
    for bench in sorted(all_rows, key=order):
        lines += all_rows[bench]
    return "\n".join(lines)


def write_results(machine_line: str, runs: dict[str, str], rows: list[tuple[str, Row]]) -> None:
    """Merge the new rows into the text between the markers of docs/BENCHMARKS.md."""
    text = RESULTS_FILE.read_text()
    head, _, rest = text.partition(START)
    previous, _, tail = rest.partition(END)
    section = merge_section(previous, machine_line, runs, rows)
    RESULTS_FILE.write_text(f"{head}{START}\n{section}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a quick look")
    parser.add_argument(
        "--write", action="store_true", help=f"also put the table into {RESULTS_FILE} between its markers"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the benchmarks in this process (by default each of several runs in its own)",
    )
    parser.add_argument("--rows-json", type=Path, help=argparse.SUPPRESS)  # a child's rows, for its parent
    args = parser.parse_args(argv)
    names = args.names or BENCHMARKS
    if args.in_process or len(names) == 1:
        rows, missing = run_benchmarks(names, args.quick)
    else:
        rows, missing = run_isolated(names, args.quick)
    if args.rows_json is not None:
        args.rows_json.write_text(json.dumps([dataclasses.asdict(row) for _, row in rows]))
        return exit_code(rows, missing)
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    command = f"python -m bench{' --quick' if args.quick else ''} {' '.join(args.names)}".rstrip()
    machine_line = f"Machine: {machine()}"
    print(f"{machine_line}; {when}; command: {command}")
    print()
    print(render(rows))
    if missing:
        print(f"\nno such benchmark: {', '.join(missing)}")
    missed = bars_missed(rows)
    print(f"\n{len(missed)} bar(s) missed" + "".join(f"\n  {bench}: {row.name}" for bench, row in missed))
    if args.write:
        ran = sorted({bench for bench, _ in rows}, key=names.index)
        write_results(machine_line, {bench: f"{when}, `{command}`" for bench in ran}, rows)
    return exit_code(rows, missing)


if __name__ == "__main__":
    sys.exit(main())
