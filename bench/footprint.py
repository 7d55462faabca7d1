"""The profiler's own memory over hours of uptime, simulated in seconds.

A runtime with default settings builds its real workers (memory/CPU sampler, stack
sampler, leak checks) without their threads; a simulated clock then drives their ticks
at their real rates: the stack sampler 11 times a simulated second over a synthetic
service (threads whose stacks are drawn at random from thousands of functions, so new
distinct stacks keep appearing; threads come and go), the memory/CPU sampler every 5 s,
a leak check every 300 s and a leak analysis every 30 min, a bottlenecks query every
minute. The stack sampler's profile history (10 s buckets for an hour, 5 min buckets up
to a day, by wall-clock time) is on, as by default, and its wall clock follows the
simulated one. At each checkpoint the profiler's retained memory is the size of everything
reachable from its structures (code, modules, classes and the service's own objects not
counted), and the process's RSS growth since just before the runtime was built is
reported beside it (each scenario runs in a fresh process, so that growth is not memory
another benchmark freed). Bars: every checkpoint under FOOTPRINT_BAR_MB, and no growth
once every ring buffer is full (the history's after 24 h, so the full run simulates 25 h);
the history's own part stays under the worst case its caps allow.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from bench.common import Row
from profiling.core.assembly import default_workers
from profiling.core.config import MIB, ProfilingConfig
from profiling.core.memory.service import memory_analysis
from profiling.core.runtime import ProfilingRuntime
from profiling.core.stacks.history import DEFAULT_TIERS, ProfileHistory
from profiling.core.stacks.idle import CalleeReader
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.report import bottlenecks_report
from profiling.core.stacks.sampler import StackSampler
from profiling.core.stacks.store import Bucket, StackStats

ROOT = Path(__file__).resolve().parent.parent
FOOTPRINT_BAR_MB = 50.0
# Once every buffer is full, the footprint may move with what the buffers hold, not grow.
FLAT_BAR_PERCENT = 5.0
CHECKPOINTS_MIN = (10, 20, 30, 60, 120, 240, 480, 600, 1440, 1500)
QUICK_CHECKPOINTS_MIN = (10, 20, 30, 60, 120)
# The profile history's own rows, at these checkpoints when simulated.
HISTORY_ROWS_MIN = (60, 480, 1440)
# The worst the stack store can be asked to hold: many busy threads, deep stacks, a new
# stack at most samples. Its window is full after 10 min.
STRESS_THREADS = 40
STRESS_DEPTH = (60, 116)  # under the 12 frames of the server loop and framework
STRESS_CHECKPOINTS_MIN = (10, 20)
# The profile history fed on its own, the worst it can be asked to hold: every second a
# hundred new stacks 40 deep (none held anywhere else) and 64 new labels with calls, so
# every cap of every tier binds. Its last tier is full after 24 h.
HISTORY_STRESS_CHECKPOINTS_MIN = (60, 480, 1440, 1500)
HISTORY_STRESS_STACKS = 100
HISTORY_STRESS_DEPTH = 40
HISTORY_STRESS_CALLS = 64
QUERY_EVERY_SECS = 60.0
ANALYSIS_EVERY_SECS = 1800.0
EPOCH = 1_800_000_000.0

# Objects that are code or program structure, shared with the service: never counted.
_NOT_PROFILER_DATA = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.CodeType,
    types.BuiltinFunctionType,
    types.FrameType,
)


def retained_bytes(roots: Iterable[object], *, seen: set[int], exclude: set[int]) -> int:
    """Bytes of every object reachable from `roots` not yet in `seen` (added to it).

    Code, modules, classes and functions are shared with the service and not counted,
    nor is anything whose id is in `exclude` (the service's own objects), nor what is
    reachable only through them.
    """
    total = 0
    pending = list(roots)
    while pending:
        obj = pending.pop()
        key = id(obj)
        if key in seen or key in exclude or isinstance(obj, _NOT_PROFILER_DATA):
            continue
        seen.add(key)
        total += sys.getsizeof(obj)
        pending.extend(gc.get_referents(obj))
    return total


class SimulatedClock:
    """Monotonic seconds since the simulated start; wall time is a fixed epoch plus those."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now


class FakeFrame:
    """What the stack sampler reads of a frame (the tests' FakeFrame, kept here to stay apart)."""

    __slots__ = ("f_code", "f_globals", "f_back", "f_lasti")

    def __init__(self, code: types.CodeType, globals_: dict, back: FakeFrame | None, lasti: int = 0):
        self.f_code = code
        self.f_globals = globals_
        self.f_back = back
        self.f_lasti = lasti


class FakeThread:
    def __init__(self, name: str):
        self.name = name


@dataclass
class _Function:
    code: types.CodeType
    globals_: dict


def _functions(count: int, modules: int, directory: str, package: str, rng: random.Random) -> list[_Function]:
    """`count` distinct functions in `modules` synthetic modules under `directory`."""
    found = []
    per_module = -(-count // modules)
    for m in range(modules):
        name = f"{package}.mod{m}"
        source = "\n".join(
            f"def f{m}_{i}(x):\n    y = x + {i}\n    return helper(y)\n" for i in range(per_module)
        )
        code = compile(source, os.path.join(directory, package.replace(".", os.sep), f"mod{m}.py"), "exec")
        namespace: dict = {"__name__": name, "helper": abs}
        exec(code, namespace)
        for i in range(per_module):
            found.append(_Function(namespace[f"f{m}_{i}"].__code__, namespace))
    rng.shuffle(found)
    return found[:count]


class SyntheticService:
    """Threads of a service whose stacks the sampler reads: a fixed outer part per thread
    (server loop, framework) under a random call path, changing at most samples."""

    def __init__(
        self,
        *,
        threads: int = 12,
        idle_threads: int = 3,
        app_functions: int = 3000,
        library_functions: int = 4000,
        depth: tuple[int, int] = (2, 30),
        seed: int = 7,
    ):
        self.rng = random.Random(seed)
        self.depth = depth
        library_dir = sysconfig.get_paths()["purelib"]
        self.library = _functions(library_functions, 40, library_dir, "synthlib", self.rng)
        self.app = _functions(app_functions, 30, str(ROOT), "synthapp", self.rng)
        self.idle_code = threading.Event.wait.__code__
        self.idle_globals = vars(threading)
        self._next_ident = 1000
        self.threads: dict[int, FakeThread] = {}
        self.frames: dict[int, FakeFrame] = {}
        self.cpu: dict[int, float] = {}
        self._outer: dict[int, FakeFrame] = {}
        self._idle: set[int] = set()
        for _ in range(threads):
            self._add_thread(idle=False)
        for _ in range(idle_threads):
            self._add_thread(idle=True)

    def _pick(self, functions: list[_Function]) -> _Function:
        # Skewed: a few hot functions, a long tail.
        index = min(len(functions) - 1, int(self.rng.paretovariate(1.2)) - 1)
        if self.rng.random() < 0.5:
            index = self.rng.randrange(len(functions))
        return functions[index]

    def _add_thread(self, *, idle: bool) -> None:
        ident = self._next_ident
        self._next_ident += 1
        self.threads[ident] = FakeThread(f"worker-{ident}")
        self.cpu[ident] = 0.0
        frame = None
        for function in self.library[:12]:  # the server loop and framework
            frame = FakeFrame(function.code, function.globals_, frame)
        assert frame is not None
        self._outer[ident] = frame
        if idle:
            self._idle.add(ident)
            self.frames[ident] = FakeFrame(self.idle_code, self.idle_globals, frame)
        else:
            self.frames[ident] = frame

    def replace_threads(self, count: int) -> None:
        """Threads end and new ones start (a pool recycling its workers)."""
        busy = [ident for ident in self.threads if ident not in self._idle]
        for ident in busy[:count]:
            del self.threads[ident], self.frames[ident], self.cpu[ident], self._outer[ident]
        for _ in range(min(count, len(busy))):
            self._add_thread(idle=False)

    def step(self, wall_secs: float) -> None:
        """Move every busy thread on: most run a new call path, some stay where they were."""
        rng = self.rng
        for ident in self.threads:
            if ident in self._idle:
                self.cpu[ident] += 0.001 * wall_secs
                continue
            self.cpu[ident] += rng.random() * wall_secs
            if rng.random() < 0.3:
                continue  # the same call still running
            frame = self._outer[ident]
            depth = rng.randint(*self.depth)
            for level in range(depth):
                function = self._pick(self.app if level % 3 != 2 else self.library)
                frame = FakeFrame(function.code, function.globals_, frame, lasti=2 * rng.randrange(8))
            self.frames[ident] = frame

    def objects(self) -> set[int]:
        """Ids of the service's own objects, reachable from the profiler but not its data."""
        ids = {id(self), id(self.threads), id(self.frames), id(self.cpu), id(self.idle_globals)}
        ids.update(id(thread) for thread in self.threads.values())
        ids.update(id(function.globals_) for function in self.library + self.app)
        return ids


def _stack_sampler_factory(service: SyntheticService, clock: SimulatedClock, labeler: CodeLabeler):
    def build(runtime: ProfilingRuntime) -> StackSampler:
        return StackSampler(
            runtime.config.sample_hz,
            full=runtime.config.full,
            clock=clock,
            frames=lambda: service.frames,
            threads=lambda: service.threads,
            thread_cpu=service.cpu.get,
            labeler=labeler,
            # The history's buckets are by wall-clock time: the simulated one.
            wall_clock=clock.wall,
            # A tick's short wait before it samples is real time; on the simulated clock it
            # would only slow the simulation down (hours of ticks).
            wait=lambda secs: False,
        )

    return build


@dataclass
class Checkpoint:
    minutes: float
    retained_bytes: int
    parts: dict[str, int]
    rss_growth_bytes: int
    stacks_in_store: int
    buckets: int
    samples_kept: int
    leak_checks_kept: int
    labels: int
    wall_secs: float
    history_entries: int = 0
    history_frames: int = 0
    history_buckets: int = 0
    history_estimate_bytes: int = 0
    history_worst_bytes: int = 0
    history_hours: float = 0.0


def in_forked_child(compute: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Run `compute` in a forked copy of this (single-threaded) process; return its answer."""
    if not hasattr(os, "fork"):
        return compute()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer and leave without running any cleanup of the parent's
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "w") as out:
                json.dump(compute(), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not text:
        raise RuntimeError(f"the measuring child failed (wait status {status})")
    return json.loads(text)


class Simulation:
    """A default-settings runtime whose workers are driven by a simulated clock."""

    def __init__(self, config: ProfilingConfig, service: SyntheticService):
        self.clock = SimulatedClock()
        self.service = service
        self.labeler = CodeLabeler(project_root=str(ROOT))
        factories = default_workers()
        factories["stacks"] = _stack_sampler_factory(service, self.clock, self.labeler)
        self.runtime = ProfilingRuntime(
            config, clock=self.clock, wall_clock=self.clock.wall, workers=factories
        )
        workers = self.runtime.create_workers()
        self.system = workers["system"]
        self.stacks = workers["stacks"]
        self.leak_checks = workers["leak_checks"]
        assert isinstance(self.stacks, StackSampler)
        self.analysis = memory_analysis(self.runtime)
        self.detector = self.analysis.leaks
        for worker in workers.values():
            worker.on_start()
        self._due = {
            "stacks": self.stacks.interval,
            "system": self.system.interval,
            "leak_checks": self.leak_checks.interval,
            "analysis": ANALYSIS_EVERY_SECS,
            "query": QUERY_EVERY_SECS,
            "threads": 600.0,
        }
        self.queries = 0

    def advance_to(self, until: float) -> None:
        """Run every tick that falls due up to simulated time `until`, in time order."""
        due = self._due
        while True:
            name = min(due, key=due.__getitem__)
            when = due[name]
            if when > until:
                break
            elapsed = when - self.clock.now
            self.clock.now = when
            if name == "stacks":
                self.service.step(elapsed if elapsed > 0 else self.stacks.interval)
                self.stacks.run_tick()
                due[name] = when + self.stacks.interval
            elif name == "system":
                self.system.run_tick()
                due[name] = when + self.system.interval
            elif name == "leak_checks":
                self.leak_checks.run_tick()
                due[name] = when + self.leak_checks.interval
            elif name == "analysis":
                self.detector.detect()
                due[name] = when + ANALYSIS_EVERY_SECS
            elif name == "query":
                self._query()
                due[name] = when + QUERY_EVERY_SECS
            else:
                self.service.replace_threads(2)
                due[name] = when + 600.0
        self.clock.now = until

    def _query(self) -> None:
        """What the dashboard asks every minute: the bottlenecks of the last minute."""
        sampler = self.stacks
        totals = sampler.store.window(sampler.now(), 60)
        bottlenecks_report(
            totals,
            sampler.labeler,
            sampler.attributed_position,
            scope="app",
            limit=10,
            window_secs=60,
            sample_hz=sampler.sample_hz,
            timestamp=self.clock.wall(),
            started=time.perf_counter(),
            exact=None,
            exact_note=None,
            cpu_clock_available=True,
        )
        self.queries += 1

    def errors(self) -> int:
        return sum(worker.error_count for worker in (self.system, self.stacks, self.leak_checks))

    def parts(self) -> dict[str, Callable[[], list[object]]]:
        """Each structure of the profiler, in the order its memory is attributed."""
        sampler = self.stacks
        return {
            "stack store": lambda: [sampler.store],
            "profile history": lambda: [sampler.history] if sampler.history is not None else [],
            "labels": lambda: [sampler.labeler],
            "callee cache": lambda: [CalleeReader.shared()],
            "stack sampler state": lambda: [sampler],
            "memory/CPU history": lambda: [self.system],
            "leak history": lambda: [self.detector],
            "rest of the runtime": lambda: [self.runtime, self.analysis, self.leak_checks],
        }

    def retained_parts(self) -> dict[str, int]:
        """Bytes reachable from each of the profiler's structures, each object counted once."""
        seen: set[int] = set()
        exclude = self.service.objects()
        roots = {name: roots() for name, roots in self.parts().items()}
        all_roots = {id(root) for found in roots.values() for root in found}
        parts = {}
        for name, found in roots.items():
            # A part stops at the other parts' roots: each structure is counted in its own part.
            others = all_roots - {id(root) for root in found}
            parts[name] = retained_bytes(found, seen=seen, exclude=exclude | others)
        return parts

    def measure(self, rss_start: int, started: float) -> Checkpoint:
        gc.collect()
        rss_growth = psutil.Process().memory_info().rss - rss_start
        # The walk's own bookkeeping (a set of ids of every object it meets) would stay in
        # this process's RSS: it runs in a forked copy, which answers through a pipe.
        parts = in_forked_child(self.retained_parts)
        store = self.stacks.store
        with store.lock:
            buckets = list(store._buckets)  # noqa: SLF001
        history = self.stacks.history
        assert isinstance(history, ProfileHistory)
        tiers = history.counts()
        coverage = history.coverage()
        return Checkpoint(
            minutes=self.clock.now / 60,
            retained_bytes=sum(parts.values()),
            parts=parts,
            rss_growth_bytes=rss_growth,
            stacks_in_store=sum(len(b.stacks) for b in buckets),
            buckets=len(buckets),
            samples_kept=len(self.system.history()),
            leak_checks_kept=len(self.detector.history()),
            labels=len(self.labeler.labels),
            wall_secs=time.perf_counter() - started,
            history_entries=int(sum(tier["entries"] for tier in tiers)),
            history_frames=int(sum(tier["frames"] for tier in tiers)),
            history_buckets=int(sum(tier["buckets"] for tier in tiers)),
            history_estimate_bytes=history.memory_bytes(),
            history_worst_bytes=history.worst_case_bytes(),
            history_hours=(coverage[1] - coverage[0]) / 3600 if coverage else 0.0,
        )

    def stop(self) -> None:
        self.stacks.stop()
        self.analysis.stop()


def simulate(
    checkpoints_min: Iterable[float],
    *,
    config: ProfilingConfig | None = None,
    service: SyntheticService | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
) -> list[Checkpoint]:
    """Run a simulated uptime, measuring the profiler's memory at each checkpoint (minutes)."""
    with tempfile.TemporaryDirectory(prefix="riptide-bench-footprint-") as directory:
        config = config or ProfilingConfig(snapshot_dir=Path(directory))
        service = service or SyntheticService()
        gc.collect()
        rss_start = psutil.Process().memory_info().rss
        simulation = Simulation(config, service)
        started = time.perf_counter()
        results = []
        try:
            for minutes in sorted(checkpoints_min):
                simulation.advance_to(minutes * 60)
                checkpoint = simulation.measure(rss_start, started)
                results.append(checkpoint)
                if on_checkpoint is not None:
                    on_checkpoint(checkpoint)
            errors = simulation.errors()
            if errors:
                raise RuntimeError(f"{errors} worker ticks failed during the simulation")
        finally:
            simulation.stop()
    return results


def full_after_minutes(config: ProfilingConfig, *, profile_history: bool = True) -> float:
    """Simulated minutes after which every ring buffer of the profiler is full."""
    from profiling.core.memory.detector import MAX_HISTORY

    return max(
        600.0 / 60,  # the stack store's window (StackSampler's max_window_secs)
        DEFAULT_TIERS[-1][1] / 60 if profile_history else 0.0,  # the profile history's last tier
        config.history_max_samples * config.memory_interval_secs / 60,
        MAX_HISTORY * config.leak_check_interval_secs / 60,
    )


def _label(minutes: float) -> str:
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


def rows_for(
    checkpoints: list[Checkpoint], full_after: float, bar_mb: float = FOOTPRINT_BAR_MB, scenario: str = ""
) -> list[Row]:
    """One row per checkpoint against the bar, and one for the growth after the buffers filled."""
    rows = []
    for point in checkpoints:
        mb = point.retained_bytes / MIB
        biggest = sorted(point.parts.items(), key=lambda item: item[1], reverse=True)[:3]
        rows.append(
            Row(
                f"profiler footprint{scenario} after {_label(point.minutes)} of simulated uptime",
                f"{mb:.1f} MB",
                f"< {bar_mb:g} MB",
                mb < bar_mb,
                f"RSS +{point.rss_growth_bytes / MIB:.1f} MB; "
                + ", ".join(f"{name} {size / MIB:.1f} MB" for name, size in biggest)
                + f"; {point.stacks_in_store} stacks in {point.buckets} buckets, {point.samples_kept} samples, "
                f"{point.leak_checks_kept} leak checks, {point.labels} labels kept",
            )
        )
    filled = [p for p in checkpoints if p.minutes >= full_after]
    if len(filled) >= 2:
        first, last = filled[0], filled[-1]
        growth = 100.0 * (last.retained_bytes - first.retained_bytes) / first.retained_bytes
        rows.append(
            Row(
                f"footprint growth{scenario} once every buffer is full "
                f"({_label(first.minutes)} to {_label(last.minutes)})",
                f"{growth:+.1f} %",
                f"< {FLAT_BAR_PERCENT:g} %",
                growth < FLAT_BAR_PERCENT,
                f"{first.retained_bytes / MIB:.1f} MB -> {last.retained_bytes / MIB:.1f} MB; "
                f"RSS +{first.rss_growth_bytes / MIB:.1f} -> +{last.rss_growth_bytes / MIB:.1f} MB",
            )
        )
    elif checkpoints:
        first, last = checkpoints[0], checkpoints[-1]
        rows.append(
            Row(
                f"footprint growth{scenario} {_label(first.minutes)} to {_label(last.minutes)}",
                f"{(last.retained_bytes - first.retained_bytes) / MIB:+.1f} MB",
                "reported",
                detail=f"every buffer is full after {_label(full_after)}: flatness needs two checkpoints "
                "from then on (run without --quick)",
            )
        )
    return rows


def history_rows(checkpoints: list[Checkpoint], at_min: Iterable[float] = HISTORY_ROWS_MIN) -> list[Row]:
    """The profile history's part of the footprint at these checkpoints, against its caps' worst case."""
    rows = []
    wanted = set(at_min)
    for point in checkpoints:
        if point.minutes not in wanted:
            continue
        mb = point.parts.get("profile history", 0) / MIB
        worst = point.history_worst_bytes / MIB
        rows.append(
            Row(
                f"profile history after {_label(point.minutes)} of simulated uptime",
                f"{mb:.1f} MB",
                f"< {worst:.1f} MB (its caps' worst case)",
                mb < worst,
                f"{point.history_hours:.2f} h held in {point.history_buckets} buckets: "
                f"{point.history_entries} stack entries, {point.history_frames} frames "
                f"(its own estimate {point.history_estimate_bytes / MIB:.1f} MB; stacks still in the "
                "stack store are counted there)",
            )
        )
    return rows


@dataclass
class HistoryPoint:
    minutes: float
    retained_bytes: int
    estimate_bytes: int
    worst_bytes: int
    entries: int
    frames: int
    buckets: int
    hours_held: float
    wall_secs: float
    between_ms: float = 0.0


def simulate_history(
    checkpoints_min: Iterable[float], on_checkpoint: Callable[[HistoryPoint], None] | None = None
) -> list[HistoryPoint]:
    """Feed a default profile history the worst seconds it can get, measuring it at each checkpoint."""
    clock = SimulatedClock()
    labeler = CodeLabeler(project_root=str(ROOT))
    history = ProfileHistory(other_stack=(labeler.other_stacks_id,))
    # Label ids stand for the labeler's labels: its objects, not the history's.
    labels = list(range(1000, 9000))
    ring = labels * 2
    not_history = {id(labels), id(ring), *(id(label) for label in labels)}
    started = time.perf_counter()
    results = []
    second = 0
    for minutes in sorted(checkpoints_min):
        while second < minutes * 60:
            bucket = Bucket(ticks=11)
            for k in range(HISTORY_STRESS_STACKS):
                at = (second * 131 + k * 17) % 8000
                stack = (labels[second // 8000], labels[second % 8000], labels[k], *ring[at : at + 37])
                stats = bucket.stacks[stack] = StackStats(
                    1 + (k * 7 + second) % 50, 0.001 * k, 0.01 * (k + 1)
                )
                bucket.busy_samples += stats.samples
                bucket.cpu_secs += stats.cpu_secs
                bucket.wall_secs += stats.wall_secs
            for j in range(HISTORY_STRESS_CALLS):
                bucket.app_calls[labels[(second * 64 + j) % 8000]] = j + 1
                bucket.leaf_calls[labels[(second * 64 + j + 32) % 8000]] = j + 1
            history.add(bucket, clock.wall(), 1.0)
            second += 1
            clock.now = float(second)
        gc.collect()
        retained = in_forked_child(
            lambda: {"bytes": retained_bytes([history], seen=set(), exclude=not_history)}
        )["bytes"]
        tiers = history.counts()
        coverage = history.coverage()
        asked = time.perf_counter()
        if coverage is not None:
            history.between(*coverage)  # what a query of the whole history costs
        between_ms = 1000.0 * (time.perf_counter() - asked)
        point = HistoryPoint(
            minutes=minutes,
            retained_bytes=retained,
            estimate_bytes=history.memory_bytes(),
            worst_bytes=history.worst_case_bytes(),
            entries=int(sum(tier["entries"] for tier in tiers)),
            frames=int(sum(tier["frames"] for tier in tiers)),
            buckets=int(sum(tier["buckets"] for tier in tiers)),
            hours_held=(coverage[1] - coverage[0]) / 3600 if coverage else 0.0,
            wall_secs=time.perf_counter() - started,
            between_ms=between_ms,
        )
        results.append(point)
        if on_checkpoint is not None:
            on_checkpoint(point)
    return results


def history_stress_rows(points: list[HistoryPoint]) -> list[Row]:
    """Each checkpoint against the history's caps' worst case, and its growth once its last tier is full."""
    rows = []
    for point in points:
        mb, worst = point.retained_bytes / MIB, point.worst_bytes / MIB
        rows.append(
            Row(
                f"profile history (worst-case feed) after {_label(point.minutes)}",
                f"{mb:.1f} MB",
                f"< {worst:.1f} MB (its caps' worst case)",
                mb < worst,
                f"{point.hours_held:.2f} h held in {point.buckets} buckets: {point.entries} stack entries, "
                f"{point.frames} frames (its own estimate {point.estimate_bytes / MIB:.1f} MB); "
                f"between() over all of it {point.between_ms:.0f} ms",
            )
        )
    full = DEFAULT_TIERS[-1][1] / 60
    filled = [p for p in points if p.minutes >= full]
    if len(filled) >= 2:
        first, last = filled[0], filled[-1]
        growth = 100.0 * (last.retained_bytes - first.retained_bytes) / first.retained_bytes
        rows.append(
            Row(
                f"profile history (worst-case feed) growth once full ({_label(first.minutes)} to "
                f"{_label(last.minutes)})",
                f"{growth:+.1f} %",
                f"< {FLAT_BAR_PERCENT:g} %",
                growth < FLAT_BAR_PERCENT,
                f"{first.retained_bytes / MIB:.1f} MB -> {last.retained_bytes / MIB:.1f} MB",
            )
        )
    rows.append(
        Row(
            "profile history worst-case simulation",
            f"{_label(points[-1].minutes)} fed in {points[-1].wall_secs:.0f} s",
            detail=f"a default history fed every simulated second {HISTORY_STRESS_STACKS} new stacks "
            f"{HISTORY_STRESS_DEPTH} deep and {HISTORY_STRESS_CALLS} new labels with calls of each kind",
        )
    )
    return rows


def _progress(scenario: str) -> Callable[[Checkpoint], None]:
    def report(point: Checkpoint) -> None:
        print(
            f"  footprint{scenario}: {_label(point.minutes)} simulated, {point.retained_bytes / MIB:.1f} MB, "
            f"{point.wall_secs:.0f} s elapsed",
            file=sys.stderr,
            flush=True,
        )

    return report


def run_scenario(scenario: str, quick: bool) -> list[Row]:
    """Simulate one scenario in this process ("default", "stress" or "history") and return its rows."""
    if scenario == "history":

        def report(point: HistoryPoint) -> None:
            print(
                f"  footprint (history): {_label(point.minutes)} fed, {point.retained_bytes / MIB:.1f} MB, "
                f"{point.wall_secs:.0f} s elapsed",
                file=sys.stderr,
                flush=True,
            )

        return history_stress_rows(simulate_history(HISTORY_STRESS_CHECKPOINTS_MIN, on_checkpoint=report))
    with tempfile.TemporaryDirectory(prefix="riptide-bench-footprint-") as directory:
        config = ProfilingConfig(snapshot_dir=Path(directory))
        if scenario == "stress":
            service = SyntheticService(threads=STRESS_THREADS, depth=STRESS_DEPTH)
            stress = simulate(
                STRESS_CHECKPOINTS_MIN, config=config, service=service, on_checkpoint=_progress(" (stress)")
            )
            # Only the stack store's window (10 min) matters here: its rows are against the bar.
            return [
                *rows_for(stress, full_after=600.0 / 60, scenario=" (stress)"),
                Row(
                    "footprint stress simulation",
                    f"{_label(stress[-1].minutes)} simulated in {stress[-1].wall_secs:.0f} s",
                    detail=f"{STRESS_THREADS} busy threads, stacks {12 + STRESS_DEPTH[0]}-{12 + STRESS_DEPTH[1]} "
                    "deep, a new stack at 70 % of samples: the stack store's window-wide caps hold it (the "
                    "profile history fills for 24 h: its worst case has rows of its own)",
                ),
            ]
        points = simulate(
            QUICK_CHECKPOINTS_MIN if quick else CHECKPOINTS_MIN, config=config, on_checkpoint=_progress("")
        )
    return [
        *rows_for(points, full_after_minutes(config)),
        *history_rows(points),
        Row(
            "footprint simulation",
            f"{_label(points[-1].minutes)} simulated in {points[-1].wall_secs:.0f} s",
            detail=f"default settings: stack sampler {config.sample_hz:g} Hz over 12 busy and 3 idle "
            f"threads (7000 functions, stacks 14-42 deep, 2 threads replaced every 10 min), memory/CPU "
            f"every {config.memory_interval_secs:g} s, leak check every {config.leak_check_interval_secs:g} s, "
            f"analysis every {ANALYSIS_EVERY_SECS / 60:g} min, a bottlenecks query every minute, "
            "the profile history on",
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    """Each scenario in a fresh process, so its RSS growth is not memory that others freed."""
    rows = []
    for scenario in ("default",) if quick else ("default", "stress", "history"):
        command = [sys.executable, "-m", "bench.footprint", "--json", scenario] + (
            ["--quick"] if quick else []
        )
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=1800, check=True)
        rows += [Row(**fields) for fields in json.loads(done.stdout)]
    return rows


if __name__ == "__main__":
    if "--json" in sys.argv:
        scenario = sys.argv[sys.argv.index("--json") + 1]
        print(json.dumps([asdict(row) for row in run_scenario(scenario, quick="--quick" in sys.argv)]))
    else:
        for row in run(quick="--quick" in sys.argv):
            print(row)
