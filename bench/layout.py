"""A/A control for the overhead benchmarks: servers that differ in nothing, read side by side.

Four Daphne servers with profiling off serve the overhead benchmark's workload, loaded
at once in rounds as `overhead` loads its arms (rotating start order), twice:
- randomised: each process with its own hash seed and address layout (Python's and
  Linux's defaults);
- fixed: the same hash seed and no address randomisation for every process, as the
  overhead benchmarks run their servers (bench/harness.py's same_layout()).
Each server's CPU per request is set against the first one's (`off`). With nothing to tell the
servers apart, every ratio should read 1: how far the randomised ones stray is the
process-to-process noise an A/B between two servers carries, which no number of rounds
averages away; the fixed ones show what is left of it.
"""

from __future__ import annotations

import time

from bench.common import Row
from bench.harness import load, same_layout, servers
from bench.overhead import WORKLOAD, busy_round, fmt_interval, ratios
from tests.servers import DaphneServer

SERVERS = ("off", "off 2", "off 3", "off 4")  # ratios() sets each against "off"
OFF = {"ENABLE_PROFILING": "false"}


def measure(fixed: bool, secs: float, min_rounds: int) -> dict[str, list[float]]:
    if fixed:
        arms = {name: dict(OFF) for name in SERVERS}
        make = None
    else:
        arms = {name: {**OFF, "PYTHONHASHSEED": "random"} for name in SERVERS}

        def make(workdir, env):
            return DaphneServer(workdir, env=env)  # Daphne's own command: randomised layout

    results: dict[str, list[dict]] = {name: [] for name in SERVERS}
    with servers(arms, make) as running:
        for server in running.values():
            load(server, WORKLOAD, 300)
        started = time.monotonic()
        while len(results["off"]) < min_rounds or time.monotonic() - started < secs:
            for name, result in busy_round(running, 500, 2, first=len(results["off"])).items():
                results[name].append(result)
    return {name: ratios(results, name, "cpu_ms_per_request") for name in SERVERS[1:]}


def run(quick: bool = False) -> list[Row]:
    secs = 30.0 if quick else 150.0
    min_rounds = 4 if quick else 20
    rows = []
    for fixed in (False, True):
        found = measure(fixed, secs, min_rounds)
        how = (
            f"same hash seed, {'no address randomisation' if same_layout() else 'setarch -R not available here'}"
            if fixed
            else "each process its own hash seed and address layout"
        )
        for name, values in found.items():
            rows.append(
                Row(
                    f"A/A, {'fixed' if fixed else 'randomised'} layout: {name} vs off, CPU per request "
                    "(profiling off in both)",
                    fmt_interval(values),
                    "reported",
                    None,
                    how,
                )
            )
    return rows
