"""`make bench`: run every benchmark, print the table, exit non-zero when a bar is missed.

python -m bench            # everything
python -m bench --quick    # fewer rounds
python -m bench overhead   # only the named benchmarks
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.common import Row

BENCHMARKS = ["overhead", "endpoints", "stack_sampler", "memory_analysis", "live_feed"]


def machine() -> str:
    freq = psutil.cpu_freq()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores"
        + (f" @ {freq.max or freq.current:.0f} MHz" if freq else "")
        + f", {psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def render(rows: list[tuple[str, Row]]) -> str:
    lines = ["| benchmark | figure | value | bar | ok |", "|---|---|---|---|---|"]
    for bench, row in rows:
        ok = "" if row.ok is None else ("yes" if row.ok else "**NO**")
        value = row.value + (f" ({row.detail})" if row.detail else "")
        lines.append(f"| {bench} | {row.name} | {value} | {row.bar} | {ok} |")
    return "\n".join(lines)


RESULTS_FILE = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_results(report: str) -> None:
    """Replace the text between the markers of docs/BENCHMARKS.md with the new table."""
    text = RESULTS_FILE.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    RESULTS_FILE.write_text(f"{head}{START}\n{report}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a quick look")
    parser.add_argument(
        "--write", action="store_true", help=f"also put the table into {RESULTS_FILE} between its markers"
    )
    args = parser.parse_args()
    names = args.names or BENCHMARKS
    rows: list[tuple[str, Row]] = []
    missing = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                missing.append(name)
                continue
            raise
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend((name, row) for row in module.run(quick=args.quick))
    print(
        f"Machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"command: python -m bench{' --quick' if args.quick else ''} {' '.join(args.names)}".rstrip()
    )
    print()
    print(render(rows))
    if missing:
        print(f"\nnot available yet: {', '.join(missing)}")
    failed = [row for _, row in rows if row.ok is False]
    return 1 if failed or missing and args.names else 0


if __name__ == "__main__":
    sys.exit(main())
