"""The stack sampler's overhead: work timed with the profiler off and on, interleaved.

Two workloads run in this process: a CPU-bound pure-Python loop and Django requests
through the whole handler and middleware stack (django.test.Client on /healthz).
Each round times the same work with nothing profiling, with the default profile
(a ProfilingRuntime with the default workers: memory/CPU sampler, leak checks and
the stack sampler at the default PROFILING_SAMPLE_HZ), and with the stack sampler at
2x and 5x that rate; the order rotates every round. A round's work starts once the
runtime's start-up (the leak checks' baseline census, the first stack sample) is done. The headline is the ratio of the best
process-CPU times over the rounds (1.010 = 1 % more CPU for the same work): other
processes on a shared machine only ever add time, so minima resist them best. The
detail gives the per-round paired ratios (median, min, max) of CPU and wall time, and
the sampler thread's own CPU per sample (its per-thread CPU clock).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable

from bench.common import Row, fmt_ratio, median_and_spread
from profiling.core.assembly import default_workers
from profiling.core.config import ProfilingConfig
from profiling.core.memory.service import memory_analysis
from profiling.core.runtime import ProfilingRuntime

DEFAULT_HZ = ProfilingConfig().sample_hz
BUDGET = 1.02


def _cpu_work(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += (i * i) % 7
    return total


def _calibrate(work: Callable[[int], object], seconds: float) -> int:
    """The iteration count that makes `work` last about `seconds`."""
    n = 1000
    while True:
        started = time.perf_counter()
        work(n)
        elapsed = time.perf_counter() - started
        if elapsed > 0.05:
            return max(1, int(n * seconds / elapsed))
        n *= 4


def _django_work() -> Callable[[int], object]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riptide_dashboard.settings")
    import warnings

    import django

    django.setup()
    from django.test import Client

    warnings.filterwarnings("ignore", message="No directory at")
    client = Client(HTTP_HOST="127.0.0.1")

    def requests(count: int) -> None:
        for _ in range(count):
            response = client.get("/healthz")
            if response.status_code != 200:
                raise RuntimeError(f"/healthz answered {response.status_code}")

    return requests


def _runtime(sample_hz: float) -> ProfilingRuntime:
    return ProfilingRuntime(ProfilingConfig(sample_hz=sample_hz), workers=default_workers())


def _wait_for_start_up(runtime: ProfilingRuntime, timeout: float = 30.0) -> None:
    """Let the runtime's one-off start-up work finish before the timed work begins.

    A server starts its runtime once; what it then pays is the steady state. The start-up
    includes the leak checks' baseline census (126 ms of CPU in this process, measured:
    a third of a 0.4 s round, which the first figures of this benchmark counted every
    round); the checks' own steady cost is the memory_analysis benchmark's row.
    """
    detector = memory_analysis(runtime).leaks
    sampler = runtime.workers["stacks"]
    deadline = time.monotonic() + timeout
    while (not detector.history() or sampler.tick_count < 1) and time.monotonic() < deadline:
        time.sleep(0.005)
    gc.collect()


def _measure(
    work: Callable[[int], object], iterations: int, configs: list[tuple[str, float | None]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    """Time `work(iterations)` per config and round: wall ratios, process CPU ratios, sampler µs/sample."""
    times: dict[str, list[float]] = {name: [] for name, _ in configs}
    cpu_times: dict[str, list[float]] = {name: [] for name, _ in configs}
    per_sample_us: dict[str, list[float]] = {name: [] for name, hz in configs if hz}
    work(max(1, iterations // 10))  # warm caches and imports
    for round_index in range(rounds):
        shift = round_index % len(configs)
        for name, hz in configs[shift:] + configs[:shift]:
            gc.collect()  # each segment starts from the same garbage, not mid-way to a full collection
            runtime = _runtime(hz) if hz else None
            if runtime is not None:
                runtime.ensure_running()
                _wait_for_start_up(runtime)
            try:
                started, started_cpu = time.perf_counter(), time.process_time()
                work(iterations)
                times[name].append(time.perf_counter() - started)
                cpu_times[name].append(time.process_time() - started_cpu)
            finally:
                if runtime is not None:
                    runtime.stop()
            if runtime is not None:
                sampler = runtime.workers["stacks"]
                if sampler.tick_count:
                    per_sample_us[name].append(1e6 * sampler.cpu_seconds / sampler.tick_count)

    return times, cpu_times, per_sample_us


def _paired(measured: dict[str, list[float]], name: str, off: str) -> list[float]:
    """Per-round ratios of a config's time to the same round's time with nothing on."""
    return [t / o for t, o in zip(measured[name], measured[off], strict=True)]


def _best(measured: dict[str, list[float]], name: str, off: str) -> float:
    """Ratio of best times: other processes only ever slow a run down, so minima resist them."""
    return min(measured[name]) / min(measured[off])


def run(quick: bool = False) -> list[Row]:
    """Overhead of the stack sampler at the default rate, 2x and 5x, on two workloads."""
    # Many short interleaved rounds: on a shared machine the spread comes from other
    # processes, and medians of many pairs resist it best.
    rounds = 7 if quick else 25
    seconds = 0.2 if quick else 0.4
    configs: list[tuple[str, float | None]] = [
        ("off", None),
        ("off again (A/A control: the noise floor)", None),
        (f"default profile ({DEFAULT_HZ:g} Hz)", DEFAULT_HZ),
        (f"stack sampler at 2x ({2 * DEFAULT_HZ:g} Hz)", 2 * DEFAULT_HZ),
        (f"stack sampler at 5x ({5 * DEFAULT_HZ:g} Hz)", 5 * DEFAULT_HZ),
    ]
    rows: list[Row] = []
    workloads = [("CPU-bound Python", _cpu_work), ("Django requests", _django_work())]
    runtime_logger = logging.getLogger("profiling.core.runtime")
    level = runtime_logger.level
    runtime_logger.setLevel(logging.WARNING)  # one start line per round is noise here
    try:
        for label, work in workloads:
            rows.extend(_rows(label, work, seconds, rounds, configs))
    finally:
        runtime_logger.setLevel(level)
    return rows


def _rows(
    label: str,
    work: Callable[[int], object],
    seconds: float,
    rounds: int,
    configs: list[tuple[str, float | None]],
) -> list[Row]:
    rows = []
    iterations = _calibrate(work, seconds)
    wall, cpu, per_sample = _measure(work, iterations, configs, rounds)
    off = configs[0][0]
    for name, hz in configs[1:]:
        best = _best(cpu, name, off)
        cost = median_and_spread(per_sample.get(name) or [0.0])[0]
        is_default = hz == DEFAULT_HZ
        rows.append(
            Row(
                name=f"stack sampler overhead, {label}: {name}",
                value=f"process CPU, best-of-{rounds} ratio {best:.3f}",
                bar=f"< {BUDGET:.2f}" if is_default else "",
                ok=(best < BUDGET) if is_default else None,
                detail=(
                    f"paired CPU ratios {fmt_ratio(_paired(cpu, name, off))}; "
                    f"wall best-of ratio {_best(wall, name, off):.3f}, paired {fmt_ratio(_paired(wall, name, off))}; "
                    + (
                        f"sampler thread {cost:.0f} us CPU/sample ({cost * hz / 1e4:.2f} % of a core); "
                        if hz
                        else ""
                    )
                    + f"{iterations} iterations of ~{seconds:g} s, {rounds} interleaved rounds"
                ),
            )
        )
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
