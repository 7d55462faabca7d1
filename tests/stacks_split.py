"""A workload with a known CPU split, measured by the thread's own CPU clock.

One worker thread runs, round after round, three functions that burn 53, 32 and 15 %
of its CPU, then a function that sleeps right after them; a background thread sleeps in
a loop. Each function's real CPU time is measured around every call (`time.thread_time`),
so a profiler's figures can be compared with the truth.
"""

from __future__ import annotations

import threading
import time

from profiling.core.stacks.report import bottlenecks_report

MODULE = __name__
SHARES = {"split_heavy": 0.53, "split_medium": 0.32, "split_light": 0.15}
ROUND_CPU_SECS = 0.03
SLEEP_SECS = 0.02


def split_heavy(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(300):
            total += i * i
    return total


def split_medium(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(300):
            total += i * i
    return total


def split_light(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(300):
            total += i * i
    return total


def split_sleeper(secs: float) -> None:
    time.sleep(secs)


def split_background(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.05)


class SplitWorkload:
    """Run the workload on two threads; `truth()` gives each function's measured CPU seconds."""

    FUNCTIONS = (split_heavy, split_medium, split_light)

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.cpu = {f.__name__: 0.0 for f in (*self.FUNCTIONS, split_sleeper, split_background)}
        self.threads = [
            threading.Thread(target=self._work, name="split-worker", daemon=True),
            threading.Thread(target=self._background, name="split-background", daemon=True),
        ]

    def _work(self) -> None:
        cpu = self.cpu
        while not self.stop.is_set():
            for function in self.FUNCTIONS:
                started = time.thread_time()
                function(ROUND_CPU_SECS * SHARES[function.__name__])
                cpu[function.__name__] += time.thread_time() - started
            started = time.thread_time()
            split_sleeper(SLEEP_SECS)
            cpu["split_sleeper"] += time.thread_time() - started

    def _background(self) -> None:
        started = time.thread_time()
        split_background(self.stop)
        self.cpu["split_background"] += time.thread_time() - started

    def __enter__(self) -> SplitWorkload:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def truth_percent(self) -> dict[str, float]:
        """Each function's share of the workload's CPU, in percent."""
        total = sum(self.cpu.values())
        return {name: 100.0 * secs / total for name, secs in self.cpu.items()}


def measured_split(sampler, window_secs: float) -> dict:
    """The sampler's bottlenecks report for the window, with the hotspots keyed by short name."""
    body = bottlenecks_report(
        sampler.store.window(sampler.now(), window_secs),
        sampler.labeler,
        sampler.attributed_position,
        scope="app",
        limit=100,
        window_secs=window_secs,
        sample_hz=sampler.sample_hz,
        timestamp=time.time(),
        started=time.perf_counter(),
    )
    prefix = f"{MODULE}."
    spots = {
        spot["function_name"][len(prefix) :]: spot
        for spot in body["hotspots"]
        if spot["function_name"].startswith(prefix)
    }
    return {"body": body, "spots": spots}


def run(sample_hz: float, secs: float) -> dict:
    """Profile the workload for `secs` with a real sampler; truth and measured CPU shares."""
    from profiling.core.stacks.sampler import StackSampler

    sampler = StackSampler(sample_hz)
    with SplitWorkload() as workload:
        time.sleep(0.2)
        sampler.start()
        try:
            time.sleep(secs)
        finally:
            sampler.stop()
    measured = measured_split(sampler, sampler.store.max_window_secs)
    truth = workload.truth_percent()
    shares = {name: measured["spots"].get(name, {}).get("cpu_time_percent", 0.0) for name in truth}
    return {
        "truth": {k: round(v, 1) for k, v in truth.items()},
        "measured": shares,
        "errors": {name: round(shares[name] - truth[name], 1) for name in truth},
        "recommendations": measured["body"]["recommendations"],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(float(sys.argv[1]), float(sys.argv[2])), indent=1))
