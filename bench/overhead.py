"""Profiling overhead, side by side with Pyroscope's agent, on the same Django workload.

Four Daphne processes serve the same realistic request (`/bench/catalogue`: ORM reads,
per-row work and allocation, JSON) in one run:
- `off`: ENABLE_PROFILING=false, the baseline;
- `default`: our default settings;
- `ours 100 Hz`: our sampler at 100 Hz with no CPU budget (the rate Pyroscope uses);
- `pyroscope`: profiling off and `pyroscope-io` configured in the server at its default
  100 Hz, uploading to a closed port on loopback (every upload fails at once, harmlessly).

Busy machine (the A/B figure): every round loads the four servers at once, a load
generator process each with the same connections, so every arm runs under the same
machine conditions at the same moment (the shared machine's noise is common to the
arms of a round and cancels in their ratio). Per round and arm: the server's CPU seconds
per request (its scheduler clock, in nanoseconds) and its requests per second; the figure
is the mean of the per-round ratios arm / off with a 95 % interval, over as many rounds
as the time budget allows (per-request noise is white: the interval narrows with the
square root of the requests). The load generators start in a rotating order, and every
server process has the same hash seed and address layout (bench/harness.py's
same_layout()). Two processes still differ a little with nothing to tell them apart:
the `layout` benchmark's A/A rows show by how much, a floor under these intervals.

Every figure is taken once the servers have run a minute: the stack sampler's CPU budget
applies from then on (its first minute fills its caches and is sampled in full).

Quiet machine: one server at a time (the others idle), saturated, in rotating order:
throughput and CPU per request again, and the profiler's own CPU (its threads' clocks,
from /metrics) as a share of the server's, which the bar bounds at 0.5 %.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import time

import httpx
import psutil

from bench.common import Row
from bench.harness import ROOT, cpu_seconds, load, load_command, servers
from bench.workload.apps import PYROSCOPE_HZ_ENV
from profiling.core.stacks.sampler import BUDGET_GRACE_SECS

WORKLOAD = "/bench/catalogue"
OVERHEAD_BAR = 0.01  # < 1 % CPU per request, default settings
OWN_CPU_BAR_PERCENT = 0.5
INTERVAL_BAR = 0.01  # the 95 % interval of the default's ratio: narrower than 1 %
IDLE_BAR_PERCENT = 1.0

ARMS = {
    "off": {"ENABLE_PROFILING": "false"},
    "default": {},
    "ours 100 Hz": {"PROFILING_SAMPLE_HZ": "100", "PROFILING_SAMPLER_MAX_CPU_PERCENT": "100"},
    "pyroscope": {"ENABLE_PROFILING": "false", PYROSCOPE_HZ_ENV: "100"},
}
OURS = ("default", "ours 100 Hz")


def t_quantile_975(dof: int) -> float:
    """Student's t 0.975 quantile (Cornish-Fisher expansion around the normal's; within 0.1 % from 5 dof)."""
    z = statistics.NormalDist().inv_cdf(0.975)
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)


def mean_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % interval (t)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def fmt_interval(values: list[float]) -> str:
    mean, low, high = mean_interval(values)
    return (
        f"{mean:.4f} (95 % interval {low:.4f}-{high:.4f}, width {100 * (high - low):.2f} %; "
        f"rounds {min(values):.3f}-{max(values):.3f}, n={len(values)})"
    )


def profiler_cpu_seconds(server) -> float | None:
    """The profiler's own CPU seconds in a server (riptide_profiler_cpu_seconds_total), if it runs."""
    response = httpx.get(f"{server.base_url}/metrics", headers={"X-API-Key": server.api_key}, timeout=30)
    found = re.search(r"^riptide_profiler_cpu_seconds_total (\S+)$", response.text, re.MULTILINE)
    return float(found.group(1)) if found else None


def achieved_hz(server) -> float | None:
    response = httpx.get(
        f"{server.base_url}/api/profiling/bottlenecks",
        params={"window": "60"},
        headers={"X-API-Key": server.api_key},
        timeout=30,
    )
    return response.json().get("achieved_sample_hz") if response.status_code == 200 else None


def server_cpu(server) -> float:
    """CPU seconds of a server: every process of a multi-worker service, else its one process."""
    return server.cpu_seconds() if hasattr(server, "workers") else cpu_seconds(server.process.pid)


def wait_for_budget(launched: float) -> None:
    """Measure the steady state: the sampler's CPU budget applies from its first minute on."""
    time.sleep(max(0.0, launched + BUDGET_GRACE_SECS + 5.0 - time.monotonic()))


def busy_round(running: dict, requests: int, connections: int, first: int = 0) -> dict[str, dict]:
    """Load every server at once, a load generator process each; per arm: CPU ms/request, req/s.

    The generators start in turn from the `first` arm on (rotate it from round to round:
    the first one started gets going a little ahead of the others)."""
    names = list(running)
    at = first % len(names)
    order = names[at:] + names[:at]
    before = {name: server_cpu(running[name]) for name in order}
    procs = {
        name: subprocess.Popen(
            load_command(running[name], WORKLOAD, requests, connections),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in order
    }
    results = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator for {name} exited {proc.returncode}")
        results[name] = json.loads(out)
    for name, server in running.items():
        used = server_cpu(server) - before[name]
        done = max(1, results[name]["requests"])
        if results[name]["errors"]:
            raise RuntimeError(f"{name}: {results[name]['errors']} non-2xx answers")
        results[name]["cpu_ms_per_request"] = 1000 * used / done
    return results


def run(quick: bool = False) -> list[Row]:
    busy_secs = 40.0 if quick else 900.0
    min_rounds = 4 if quick else 20
    requests = 300 if quick else 500
    quiet_rounds = 1 if quick else 3
    quiet_requests = 600 if quick else 1500
    busy: dict[str, list[dict]] = {name: [] for name in ARMS}
    quiet: dict[str, list[dict]] = {name: [] for name in ARMS}
    own: dict[str, list[float]] = {name: [] for name in OURS}
    launched = time.monotonic()
    with servers(ARMS) as running:
        for server in running.values():  # warm up: imports, caches, connections
            load(server, WORKLOAD, 300)
        wait_for_budget(launched)
        started = time.monotonic()
        while len(busy["off"]) < min_rounds or time.monotonic() - started < busy_secs:
            for name, result in busy_round(running, requests, connections=2, first=len(busy["off"])).items():
                busy[name].append(result)
            if len(busy["off"]) >= 400:
                break
        names = list(ARMS)
        for r in range(quiet_rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                server = running[name]
                mark = profiler_cpu_seconds(server) if name in OURS else None
                result = load(server, WORKLOAD, quiet_requests)
                if mark is not None:
                    own[name].append(100 * (profiler_cpu_seconds(server) - mark) / result["server_cpu_s"])
                quiet[name].append(result)
        rates = {name: achieved_hz(running[name]) for name in OURS}
        idle_percent = measure_idle(running["default"].process.pid, 5.0 if quick else 15.0)
    return rows(busy, quiet, own, rates, idle_percent)


def ratios(results: dict[str, list[dict]], name: str, field: str) -> list[float]:
    return [arm[field] / off[field] for arm, off in zip(results[name], results["off"], strict=True)]


def rows(busy, quiet, own, rates, idle) -> list[Row]:
    out: list[Row] = []
    off_ms = statistics.median(x["cpu_ms_per_request"] for x in busy["off"])
    for name in ("default", "ours 100 Hz", "pyroscope"):
        cpu = ratios(busy, name, "cpu_ms_per_request")
        mean, low, high = mean_interval(cpu)
        ms = statistics.median(x["cpu_ms_per_request"] for x in busy[name])
        if name == "default":
            bar, ok = (
                f"< {1 + OVERHEAD_BAR:.2f}, interval < 1 %",
                mean < 1 + OVERHEAD_BAR and high - low < INTERVAL_BAR,
            )
        else:
            bar, ok = "reported", None
        out.append(
            Row(
                f"overhead, busy machine, {name}: server CPU per request vs profiling off",
                fmt_interval(cpu),
                bar,
                ok,
                f"median {ms:.3f} vs {off_ms:.3f} ms per request; the four servers loaded at once, "
                f"2 connections each",
            )
        )
        rps = ratios(busy, name, "rps")
        out.append(
            Row(
                f"overhead, busy machine, {name}: throughput vs profiling off",
                fmt_interval(rps),
                "> 0.99" if name == "default" else "reported",
                mean_interval(rps)[0] > 1 - OVERHEAD_BAR if name == "default" else None,
            )
        )
    pyro = ratios(busy, "pyroscope", "cpu_ms_per_request")
    default = ratios(busy, "default", "cpu_ms_per_request")
    diff = [d - p for d, p in zip(default, pyro, strict=True)]
    mean, low, high = mean_interval(diff)
    out.append(
        Row(
            "overhead, busy machine: ours (default) minus Pyroscope (100 Hz), CPU per request",
            f"{100 * mean:+.2f} points (95 % interval {100 * low:+.2f} to {100 * high:+.2f})",
            "< 0",
            high < 0,
            "paired by round; negative: ours costs less",
        )
    )
    for name in ("default", "ours 100 Hz", "pyroscope"):
        cpu = ratios(quiet, name, "cpu_ms_per_request")
        rps = ratios(quiet, name, "rps")
        detail = f"throughput {statistics.fmean(rps):.3f}; one server at a time, 8 connections"
        if name in own and own[name]:
            detail += f"; the profiler's own CPU {statistics.fmean(own[name]):.2f} % of the server's"
        if name in rates and rates[name]:
            detail += f"; achieved {rates[name]:.1f} samples/s"
        out.append(
            Row(
                f"overhead, quiet machine, {name}: server CPU per request vs profiling off",
                f"{statistics.fmean(cpu):.3f} (rounds {min(cpu):.3f}-{max(cpu):.3f}, n={len(cpu)})",
                "reported",
                None,
                detail,
            )
        )
    if own["default"]:
        share = statistics.fmean(own["default"])
        out.append(
            Row(
                "profiler's own CPU, default settings, saturated server (% of the server's CPU)",
                f"{share:.2f} %",
                f"< {OWN_CPU_BAR_PERCENT} %",
                share < OWN_CPU_BAR_PERCENT,
                "its threads' CPU clocks and the work it charges itself "
                f"(riptide_profiler_cpu_seconds_total), rounds {', '.join(f'{x:.2f}' for x in own['default'])}",
            )
        )
    out.append(
        Row(
            "idle CPU of a profiled server (% of one core)",
            f"{idle:.2f} %",
            f"< {IDLE_BAR_PERCENT:g} %",
            idle < IDLE_BAR_PERCENT,
            "default settings, 15 s without requests",
        )
    )
    return out


def measure_idle(pid: int, seconds: float) -> float:
    """CPU of an idle server process over `seconds`, in % of one core (its scheduler clock)."""
    time.sleep(1.0)  # let the last requests settle
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu_seconds(pid) - before, time.monotonic() - start
    assert psutil.pid_exists(pid)
    return 100.0 * used / elapsed
