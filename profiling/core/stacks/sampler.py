"""The stack sampler: every thread's Python stack, a few times a second, on or off the CPU."""

from __future__ import annotations

import gc
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import CodeType, FrameType
from typing import TYPE_CHECKING

from profiling.core.frames import exclusive_pass
from profiling.core.periodic import PeriodicWorker
from profiling.core.stacks.exact import ExactCallCounter, all_threads_installer
from profiling.core.stacks.gctime import GcTimer
from profiling.core.stacks.history import ProfileHistory
from profiling.core.stacks.idle import (
    BLOCKING_CALLEES,
    GIL_RETURN_CALLEES,
    IDLE_CALLEES,
    CalleeReader,
    is_idle_function,
    is_loop_driver,
)
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.store import Bucket, Stack, StackStore
from profiling.core.stacks.threadcpu import ThreadCpuClock, ThreadSyscalls

if TYPE_CHECKING:
    from profiling.core.endpoints.tracker import EndpointTracker, Mark

PROFILER_THREAD_PREFIX = "riptide-"
MAX_DEPTH = 128
# The cache of each stack's attributed frame keeps its stacks alive after the store let
# them go: past this many stacks, or label ids in them (8 bytes each), it starts afresh.
MAX_INDEXED_STACKS = 20_000
MAX_INDEXED_FRAMES = 250_000

# While a tick waits for its sample time, the process switches threads this often, so
# the GIL holder gives it up to the sampler within about this long of that time.
SAMPLE_SWITCH_INTERVAL_SECS = 0.001

# A tick that got the GIL late still waits this long with the short switch interval, so
# its sample does not land where the GIL came free and the CPU clocks have a window.
MIN_SAMPLE_WAIT_SECS = 0.002
# At a sample, a thread counts as running if it spent at least this share of the short
# wait before the sample on the CPU: one that waited for the GIL all along did not.
RECENT_CPU_FRACTION = 0.05
# A sample lands this share of the interval before the next tick is due at the latest, so
# the tick ends before then; a wake this share of the interval early is the next tick's.
SAMPLE_MARGIN_FRACTION = 0.2
EARLY_WAKE_FRACTION = 0.1
# The CPU budget is a share of the process's CPU, but of at least this many cores' worth.
BUDGET_FLOOR_CORES = 0.5
# How fast the budget's averages of a tick's cost and the process's CPU rate follow change
# (each tick moves them this share of the way: about 20 ticks to settle).
BUDGET_SMOOTHING = 0.05
# The budget applies from this long after the sampler starts: its first ticks fill the label
# and callee caches for every function the process has (a cost paid once), and a new
# process's first minute, start-up included, is sampled at the full rate.
BUDGET_GRACE_SECS = 60.0

FrameSource = Callable[[], Mapping[int, FrameType]]
ThreadSource = Callable[[], Mapping[int, threading.Thread]]
CpuSource = Callable[[int], "float | None"]


def current_frames() -> dict[int, FrameType]:
    """`sys._current_frames()` with the garbage collector paused around it.

    On CPython before 3.12 the call holds the runtime's thread-list lock while it
    allocates frame objects; a collection started by that allocation can free an
    object whose deallocation takes the same lock, and the process hangs for good
    (CPython gh-106883; seen here as a Daphne server that stopped answering under
    load). With the collector paused, nothing is collected inside the call.
    """
    if not gc.isenabled():
        return sys._current_frames()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        gc.enable()


def _active_threads() -> Mapping[int, threading.Thread]:
    # threading's own registry, read without a copy (enumerate() would copy it each tick).
    return getattr(threading, "_active", {})


def _same_caller(frame: FrameType, at: int, ids: list[int], codes: list[CodeType], labels: list[int]) -> bool:
    """Whether a frame found at position `at` of the last walk still has that walk's caller.

    A running frame's id is unique, but a returned one's may be reused by a new frame:
    checking the caller too (frames return innermost first, so a live caller with the
    same id is the same frame) makes a stale match need two reused ids with the same
    two code objects, i.e. the same function called from the same place.
    """
    back = frame.f_back
    if at + 1 < len(ids):
        return back is not None and id(back) == ids[at + 1] and back.f_code is codes[at + 1]
    return back is None or len(labels) > len(ids)  # the last walk ended here: the root, or truncated


def _walk(
    state: _ThreadState,
    frame: FrameType,
    key_codes: frozenset[CodeType] = frozenset(),
    read_mark: Callable[[FrameType], Mark | None] | None = None,
) -> tuple:
    """Read one thread's stack as plain values (called with the GIL held throughout).

    Returns (leaf id, leaf code, caller id, lasti, fresh frames or None when the
    stack is unchanged, position in the last walk where the rest is reused, truncated,
    (position, mark) of the innermost fresh frame serving a request or None).
    """
    back = frame.f_back
    parent_id = id(back) if back is not None else 0
    leaf_code = frame.f_code
    lasti = frame.f_lasti
    if id(frame) == state.leaf_id and leaf_code is state.leaf_code and parent_id == state.parent_id:
        # The same call still running (or one of the same function from the same
        # running caller): the same stack.
        return (id(frame), leaf_code, parent_id, lasti, None, None, False, None)
    previous_ids, previous_codes, previous_labels = state.chain_ids, state.chain_codes, state.labels
    previous_at = state.positions
    fresh: list[tuple[int, CodeType, dict]] = []
    found = None
    current: FrameType | None = frame
    while current is not None:
        code = current.f_code
        at = previous_at.get(id(current))
        if (
            at is not None
            and previous_codes[at] is code
            and _same_caller(current, at, previous_ids, previous_codes, previous_labels)
        ):
            if found is None and state.mark is not None and state.mark_at >= at and read_mark is not None:
                # The request frame is in the part reused from the last walk, but a frame's id
                # may be reused by the same function called from the same place for the next
                # request (a WSGI worker's handler, a task's first coroutine): read it again.
                found = _reread_mark(current, state.mark_at - at, len(fresh), key_codes, read_mark)
            return (id(frame), leaf_code, parent_id, lasti, fresh, at, False, found)
        if len(fresh) >= MAX_DEPTH:
            return (id(frame), leaf_code, parent_id, lasti, fresh, None, True, found)
        if found is None and code in key_codes and read_mark is not None:
            mark = _read_mark(read_mark, current)
            if mark is not None:
                found = (len(fresh), mark)
        fresh.append((id(current), code, current.f_globals))
        current = current.f_back
    return (id(frame), leaf_code, parent_id, lasti, fresh, None, False, found)


def _reread_mark(
    frame: FrameType, hops: int, fresh: int, key_codes: frozenset[CodeType], read_mark: Callable
) -> tuple[int, Mark] | tuple[int, None] | None:
    """(position, mark) of the request frame `hops` callers above `frame` (its position in the
    new walk: after the `fresh` frames), read again; (position, None) when it holds none now."""
    current: FrameType | None = frame
    for _ in range(hops):
        current = current.f_back if current is not None else None
    if current is None or current.f_code not in key_codes:
        return (fresh + hops, None)
    return (fresh + hops, _read_mark(read_mark, current))


def _read_mark(read_mark: Callable[[FrameType], Mark | None], frame: FrameType) -> Mark | None:
    try:
        return read_mark(frame)
    except Exception:  # a frame whose request is not readable: no mark, never a failed sample
        return None


class _CountedFrames:
    """The frames of one thread's stack whose call was counted already."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames: dict[int, CodeType] = {}

    def first_sight(
        self, frame_id: int, code: CodeType, positions: dict[int, int], codes: list[CodeType]
    ) -> bool:
        """Whether this frame is counted now for the first time; frames no longer on the stack are forgotten."""
        frames = self.frames
        if frames:
            for known in [
                f for f, c in frames.items() if (at := positions.get(f)) is None or codes[at] is not c
            ]:
                del frames[known]
        if frames.get(frame_id) is code:
            return False
        frames[frame_id] = code
        return True


class _ThreadState:
    """What the sampler remembers of one thread between two samples."""

    __slots__ = (
        "thread",
        "excluded",
        "last_cpu",
        "leaf_id",
        "leaf_code",
        "parent_id",
        "lasti",
        "stack",
        "idle",
        "blocked",
        "gil_checkable",
        "counted_app",
        "counted_leaf",
        "chain_ids",
        "chain_codes",
        "labels",
        "positions",
        "mark",
        "mark_at",
        "thread_mark",
    )

    def __init__(self, thread: threading.Thread | None, excluded: bool):
        self.thread = thread
        self.excluded = excluded
        self.last_cpu: float | None = None
        # No frame object is kept between ticks: dropping the last reference to a
        # frame that has returned would run its locals' finalizers on this thread,
        # holding the GIL (a database cursor waiting for its connection's mutex,
        # held by a thread that waits for the GIL, is a deadlock). Frames are known
        # again by their id (unique while they run) checked with their code object.
        self.leaf_id = 0
        self.leaf_code: CodeType | None = None
        self.parent_id = 0
        self.lasti = -1
        self.stack: Stack = ()
        self.idle = False
        self.blocked = False
        self.gil_checkable = False
        # The last walked stack, innermost first: frame ids, their code objects,
        # their labels, and each frame id's position.
        self.chain_ids: list[int] = []
        self.chain_codes: list[CodeType] = []
        self.labels: list[int] = []
        self.positions: dict[int, int] = {}
        # The innermost request mark read from a frame of the last walked stack and that
        # frame's position in chain_ids; the thread's own mark at the last sample.
        self.mark: Mark | None = None
        self.mark_at = -1
        self.thread_mark: Mark | None = None
        self.counted_app = _CountedFrames()
        self.counted_leaf = _CountedFrames()


class StackSampler(PeriodicWorker):
    """Sample every thread's stack at `sample_hz` into a `StackStore`.

    Each sample of a thread stands for the time since the previous tick, on the CPU
    when the thread is running at the sample (see `_observe`). Profiler threads (named
    `riptide-*`) and the sampler itself are never sampled. Each bucket of the store that
    closes (a newer one begins) also goes to `history`, a day of profiles by wall-clock
    time (`wall_clock`), unless it is turned off with `history=False`.
    """

    thread_name = "riptide-stack-sampler"

    def __init__(
        self,
        sample_hz: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        frames: FrameSource = current_frames,
        threads: ThreadSource = _active_threads,
        thread_cpu: CpuSource | None = None,
        labeler: CodeLabeler | None = None,
        store: StackStore | None = None,
        gc_timer: GcTimer | None = None,
        max_window_secs: float = 600.0,
        full: bool = False,
        wait: Callable[[float], bool] | None = None,
        wants_cpu: Callable[[int], bool | None] | None = None,
        endpoints: EndpointTracker | None = None,
        history: ProfileHistory | bool | None = None,
        wall_clock: Callable[[], float] = time.time,
        max_cpu_share: float | None = None,
        own_cpu: Callable[[], float] = time.thread_time,
        process_cpu: Callable[[], float] = time.process_time,
    ):
        if not 0 < sample_hz <= 10_000:
            raise ValueError("sample_hz must be positive")
        super().__init__(1.0 / sample_hz, clock=clock)
        self.sample_hz = sample_hz
        self.full = full
        self._frames = frames
        self._threads = threads
        self._cpu_clock = ThreadCpuClock()
        self._thread_cpu = thread_cpu or self._cpu_clock.read
        if wants_cpu is None and thread_cpu is None:
            syscalls = ThreadSyscalls()
            wants_cpu = syscalls.wants_cpu if syscalls.available else None
        self._wants_cpu = wants_cpu
        self.cpu_clock_available = thread_cpu is not None or self._cpu_clock.available
        self.labeler = labeler or CodeLabeler.shared()
        self.store = store or StackStore(
            max_window_secs=max_window_secs, other_stack=(self.labeler.other_stacks_id,)
        )
        # Each closed bucket of the store also goes to a day of history by wall-clock time
        # (None or True: one with the default tiers; False: none).
        self.history: ProfileHistory | None
        if history is None or history is True:
            self.history = ProfileHistory(other_stack=self.store.other_stack)
        else:
            self.history = history or None
        self._wall_clock = wall_clock
        self.gc_timer = gc_timer or GcTimer()
        self._callees = CalleeReader.shared()
        # Which request each sample serves (a route label at the root of its stack), when on.
        self.endpoints = endpoints
        self._states: dict[int, _ThreadState] = {}
        self._app_index: dict[Stack, int] = {}
        self._app_index_frames = 0
        self._idle_labels: dict[int, bool] = {}
        self._driver_labels: dict[int, bool] = {}
        self._last_tick: float | None = None
        self._schedule_start: float | None = None
        self._wait = wait or self._sleep
        # One sample stands for at most this long (after a stall of the sampler).
        self.max_gap_secs = max(1.0, 5.0 / sample_hz)
        # A CPU budget for the sampler's own thread, a share of the whole process's CPU
        # (Datadog's stack collector bounds its share of wall time, max_time_usage_pct, in
        # the same way): past it, ticks are skipped.
        if max_cpu_share is not None and not 0 < max_cpu_share <= 1:
            raise ValueError("max_cpu_share must be in (0, 1]")
        self.max_cpu_share = max_cpu_share
        self._own_cpu = own_cpu
        self._process_cpu = process_cpu
        self._budget_mark: tuple[float, float, float] | None = None
        self._budget_started = 0.0
        self._tick_cost: float | None = None
        self._process_rate = BUDGET_FLOOR_CORES
        self._tick_phase = 0.0
        self.skipped_ticks = 0
        # Exact call counts over bounded windows, only with full profiling.
        self.exact = ExactCallCounter(self.labeler, installer=all_threads_installer()) if full else None

    # -- lifecycle ---------------------------------------------------------------------

    def on_start(self) -> None:
        self._budget_mark, self._tick_cost, self._tick_phase = None, None, 0.0  # a new thread: a new clock
        self.gc_timer.install()
        self.gc_timer.take()
        self._schedule_start = self._clock()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self.gc_timer.uninstall()
        if self.exact is not None:
            self.exact.stop()
        self._states.clear()
        self._last_tick = None

    # -- sampling ----------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def tick(self) -> None:
        """Sample at a time that does not depend on when the GIL came free.

        The worker wakes when a tick is due, but gets the GIL only when its holder
        releases it: at its next blocking call, or after the switch interval (5 ms).
        Sampling then would find threads at their blocking calls and miss CPU bursts
        shorter than the switch interval (a 5 ms view is caught at the socket write
        after it). So the tick shortens the switch interval, waits until a fixed time
        after the due time (later than the GIL usually takes to come free; at least
        MIN_SAMPLE_WAIT_SECS), and samples there, within about SAMPLE_SWITCH_INTERVAL_SECS;
        then it restores the interval.
        The threads' CPU clocks are read when the wait starts too: a thread is running
        at the sample only if it used the CPU in that short window (a thread waiting for
        the GIL does not).
        """
        if self.exact is not None:
            self.exact.poll()
        usual = sys.getswitchinterval()
        short = min(usual, SAMPLE_SWITCH_INTERVAL_SECS)
        sys.setswitchinterval(short)
        try:
            now = self._clock()
            delay = MIN_SAMPLE_WAIT_SECS
            if self._schedule_start is not None:
                # The latest due time (the worker may wake a hair before it), and a lead past
                # it longer than the GIL usually takes to come free, ending well before the
                # next due time. A wake the GIL made late belongs to its own due time, never
                # to the next one: samples put off while a thread holds the GIL would leave
                # busy spells under-sampled: at high rates, the CPU of short spins was
                # charged well short of what they used.
                lead = min(
                    2 * usual + SAMPLE_SWITCH_INTERVAL_SECS, (1 - SAMPLE_MARGIN_FRACTION) * self.interval
                )
                due = self._schedule_start + self.interval * math.floor(
                    (now - self._schedule_start) / self.interval + EARLY_WAKE_FRACTION
                )
                delay = max(due + lead - now, delay)
            before = self._cpu_snapshot()
            if self._wait(delay):
                return  # stopping
            self.sample(self._clock(), recent=(before, delay))
        finally:
            if sys.getswitchinterval() == short:  # unless someone else changed it meanwhile
                sys.setswitchinterval(usual)
        if self.endpoints is not None and self.endpoints.enabled:
            self.endpoints.drain()

    def slots_to_next_tick(self) -> int:
        """Skip ticks, evenly, so that the sampler's own CPU stays within its share of the process's.

        Not in the sampler's first BUDGET_GRACE_SECS. After every tick, the sampler's cost
        per tick and the process's CPU rate (counted as at least BUDGET_FLOOR_CORES, so a
        lightly loaded process is still sampled) update two slow moving averages; from
        them, the share of due ticks the budget pays for. The ticks taken are spread evenly
        over the due ones (a fractional count carried from tick to tick), never past
        `max_gap_secs`. How long a sample waits for the next one must not depend on what
        the last sample found: a tick that cost more because a request was running,
        followed by a longer skip, would give the request's later phases (writing the
        answer, closing the connection) the skipped time. A skipped tick's time is stood
        for by the next sample, which still lands at its fixed offset after its due time:
        fewer samples, no bias.
        """
        if self.max_cpu_share is None:
            return 1
        mark = (self._own_cpu(), self._process_cpu(), self._clock())
        last, self._budget_mark = self._budget_mark, mark
        if last is None:
            self._budget_started = mark[2]
            return 1
        elapsed = mark[2] - last[2]
        if elapsed <= 0 or last[2] - self._budget_started < BUDGET_GRACE_SECS:
            return 1
        cost = max(0.0, mark[0] - last[0])
        rate = max((mark[1] - last[1]) / elapsed, BUDGET_FLOOR_CORES)
        if self._tick_cost is None:
            self._tick_cost, self._process_rate = cost, rate
        else:
            self._tick_cost += BUDGET_SMOOTHING * (cost - self._tick_cost)
            self._process_rate += BUDGET_SMOOTHING * (rate - self._process_rate)
        affordable = self.max_cpu_share * self._process_rate * self.interval
        share = 1.0 if self._tick_cost <= affordable else affordable / self._tick_cost
        most = max(1, int(self.max_gap_secs / self.interval + 1e-9))
        self._tick_phase = max(0.0, self._tick_phase - 1.0)
        slots = 0
        while slots < most:
            slots += 1
            self._tick_phase += share
            if self._tick_phase >= 1.0 - 1e-9:
                break
        self.skipped_ticks += slots - 1
        return slots

    def pause(self, secs: float) -> bool:
        """Wait for the next tick with a plain sleep, which costs the waking thread less CPU
        than a timed Event wait (measured on this kind of virtual machine). A stop is seen
        when the sleep ends (at most `max_gap_secs` later)."""
        time.sleep(min(secs, self.max_gap_secs))
        return self._stop_event.is_set()

    def _sleep(self, secs: float) -> bool:
        """Sleep a tick's short wait (cheaper than an Event's); whether the sampler is stopping."""
        time.sleep(secs)
        return self._stop_event.is_set()

    def _cpu_snapshot(self) -> dict[int, float | None]:
        """Every thread's CPU clock now, by ident."""
        read = self._thread_cpu
        return {ident: read(ident) for ident in list(self._threads())}

    def sample(self, now: float, recent: tuple[dict[int, float | None], float] | None = None) -> None:
        """Take one sample of every thread at monotonic time `now`.

        `recent` is (CPU clocks by ident, seconds ago): a thread may be running at the
        sample if it spent RECENT_CPU_FRACTION of that short window on the CPU (from zero
        for a thread started since); without it, if its clock moved since its last sample.
        The threads running at a sample share its interval of CPU (they share one GIL).
        """
        interval = self._interval(now)
        walks = self._walk_all(interval is not None, recent)
        records = []
        rates = []
        unmeasured = 0
        for state, rate, walk, gil_wait, thread_mark in walks:
            if walk is None:
                unmeasured += 1
            else:
                assert interval is not None
                records.append(self._observe(state, walk, rate, interval, gil_wait, thread_mark))
                rates.append(rate)
        running = [rate for record, rate in zip(records, rates, strict=True) if record[2] > 0]
        if len(running) > 1:
            # They share one GIL: split the interval by the CPU each used just before the
            # sample (a loop thread woken for a moment gets its moment, not half).
            # A running thread's rate is at least RECENT_CPU_FRACTION, so the total is positive.
            total = sum(running)
            records = [
                (r[0], r[1], r[2] * rate / total, *r[3:]) for r, rate in zip(records, rates, strict=True)
            ]
        discarded = len(walks) if interval is None else 0
        self._record(now, records, unmeasured if interval is not None else 0, discarded)

    def _interval(self, now: float) -> float | None:
        """The time this tick's samples stand for: since the last tick, capped; None if unknown."""
        last, self._last_tick = self._last_tick, now
        if last is None or now <= last:
            return None  # the first tick, or a clock that did not advance: nothing to stand for
        return min(now - last, self.max_gap_secs)

    def _walk_all(self, measure: bool, recent: tuple[dict[int, float | None], float] | None) -> list[tuple]:
        """Read every sampled thread's frames in one pass, as plain values.

        Returns (state, whether its CPU clock moved, walk, back from a blocking call and
        waiting for the GIL), with no walk for a thread whose CPU clock cannot be read or
        when `measure` is off (the clocks are still read: the next tick's baselines).

        Reading another thread's frames is only safe while that thread cannot run:
        on CPython 3.11 a frame it pops meanwhile can leave `f_back` pointing at
        freed memory (the segfaults reported against the Sentry and Datadog
        profilers, and seen here under load). So this pass keeps the GIL: the
        collector is paused (no finalizer runs Python code, and gh-106883 cannot
        deadlock `sys._current_frames()`) and the switch interval is raised so no
        waiting thread forces a switch; nothing here is slow (labels come later).
        Only ids, code objects, globals and offsets leave it, never a frame.
        """
        with exclusive_pass():
            frames = self._frames()
            active = self._threads()
            own = threading.get_ident()
            states = self._states
            callees, wants_cpu = self._callees, self._wants_cpu
            labeled = self.labeler.cached_id
            tracker = self.endpoints if self.endpoints is not None and self.endpoints.enabled else None
            if tracker is not None:
                thread_marks, key_codes, read_mark = (
                    tracker.thread_marks,
                    tracker.key_codes,
                    tracker.read_mark,
                )
            else:
                thread_marks, key_codes, read_mark = {}, frozenset(), None
            recent_cpu, recent_secs = (None, 0.0) if recent is None or recent[1] <= 0 else recent
            walks = []
            frame = None
            for ident, frame in frames.items():
                state = states.get(ident)
                thread = active.get(ident)
                if state is None or state.thread is not thread:
                    name = thread.name if thread is not None else ""
                    state = states[ident] = _ThreadState(
                        thread, ident == own or name.startswith(PROFILER_THREAD_PREFIX)
                    )
                if state.excluded:
                    continue
                cpu = self._thread_cpu(ident)
                last_cpu, state.last_cpu = state.last_cpu, cpu
                if cpu is None or not measure:
                    walks.append((state, 0.0, None, False, None))
                    continue
                # A thread not seen before started since the last tick (every live thread is
                # in every pass), and its CPU clock started at zero: all of it is new.
                rate = 1.0 if (cpu - last_cpu if last_cpu is not None else cpu) > 0 else 0.0
                if recent_cpu is not None:
                    before = recent_cpu.get(ident, 0.0)  # absent: started since
                    if before is not None:
                        used = cpu - before if cpu >= before else cpu  # a new thread on a reused ident
                        rate = min(1.0, used / recent_secs)
                walk = _walk(state, frame, key_codes, read_mark)
                # In a blocking built-in by its frame, but running in the kernel or waiting
                # for the GIL: not blocked (read while no other thread can move).
                gil_wait = (
                    wants_cpu is not None
                    and callees.cached(walk[1], walk[3]) in GIL_RETURN_CALLEES
                    and wants_cpu(ident) is True
                )
                # An event loop whose Python leaf is its own driver (uvloop polls in C) and
                # that is in a system call other than a futex wait (its poll) at the sample
                # is waiting, however much it ran just before.
                if wants_cpu is not None and rate >= RECENT_CPU_FRACTION:
                    leaf = labeled(walk[1])
                    if leaf is not None and self._is_loop_driver(leaf) and wants_cpu(ident) is False:
                        rate = 0.0
                walks.append((state, rate, walk, gil_wait, thread_marks.get(ident)))
            if len(states) > len(frames):
                for ident in [i for i in states if i not in frames]:
                    del states[ident]
            if tracker is not None and len(thread_marks) > len(frames):
                tracker.prune_threads(frames)
            frames = frame = None  # no frame outlives the pass
            return walks

    def _observe(
        self,
        state: _ThreadState,
        walk: tuple,
        rate: float,
        interval: float,
        gil_wait: bool = False,
        thread_mark: Mark | None = None,
    ) -> tuple:
        """One thread's sample: (stack, idle, cpu secs, wall secs, label of a new attributed call, of a new leaf call).

        The sample stands for the whole interval, on the CPU when the thread is running
        at the sample: its innermost frame is not in a wait or a blocking call (or it is
        back from one and waits for the GIL), and it used the CPU just before (see
        `sample`). The CPU an interval used is never charged to the stack seen at its end
        (a sleeper after CPU-heavy code would collect it); each stack gets the interval
        in proportion to how often samples find it running, which also counts a thread
        that lives for one sample only.
        """
        leaf_id, leaf_code, parent_id, lasti, fresh, reuse_at, truncated, found = walk
        if fresh is None:  # the same call is still running: the same stack
            if thread_mark != state.thread_mark and self.endpoints is not None and state.stack:
                state.thread_mark = thread_mark
                if (
                    state.mark is None
                    and self.endpoints.enabled
                    and self.endpoints.routes.is_route(state.stack[0])
                ):  # the thread serves another request
                    state.stack = self.store.intern((self._route_of(None, thread_mark), *state.stack[1:]))
            if lasti != state.lasti:
                state.lasti = lasti
                state.idle, state.blocked, state.gil_checkable = self._leaf_state(
                    state.stack, leaf_code, lasti
                )
            idle, on_cpu = self._running(state, rate, gil_wait)
            return (state.stack, idle, interval if on_cpu else 0.0, interval, None, None)
        chain_ids: list[int] = []
        chain_codes: list[CodeType] = []
        labels: list[int] = []
        by_code = self.labeler.cached_id
        for frame_id, code, globals_ in fresh:
            chain_ids.append(frame_id)
            chain_codes.append(code)
            label = by_code(code)
            if label is None:
                label = self.labeler.label_id(code, globals_.get("__name__"))
            labels.append(label)
        if reuse_at is not None:
            chain_ids.extend(state.chain_ids[reuse_at:])
            chain_codes.extend(state.chain_codes[reuse_at:])
            labels.extend(state.labels[reuse_at:])
        elif truncated:
            labels.append(self.labeler.truncated_id)
        if len(chain_ids) > MAX_DEPTH:  # a reused outer part made it deeper than the cap
            del chain_ids[MAX_DEPTH:], chain_codes[MAX_DEPTH:]
            labels = labels[:MAX_DEPTH] + [self.labeler.truncated_id]
        frames_stack = tuple(reversed(labels))
        if self.endpoints is not None and self.endpoints.enabled:
            # The innermost request frame: a fresh one, else one in the reused outer part.
            if found is not None and found[1] is not None:
                state.mark_at, state.mark = found
            elif found is not None:  # the request frame holds no readable request now
                state.mark, state.mark_at = None, -1
            elif reuse_at is not None and state.mark is not None and state.mark_at >= reuse_at:
                state.mark_at = len(fresh) + state.mark_at - reuse_at
            else:
                state.mark, state.mark_at = None, -1
            state.thread_mark = thread_mark
            frames_stack = (self._route_of(state.mark, thread_mark), *frames_stack)
        stack = self.store.intern(frames_stack)
        position = self._attributed_position(stack)
        # chain_* are innermost first; stack is outermost first
        index = len(stack) - 1 - position
        positions = {frame_id: i for i, frame_id in enumerate(chain_ids)}
        # A call is counted once per frame: the first time that frame is the attributed
        # one (or the leaf), for as long as it stays on the stack, so a function whose
        # leaf alternates with its callees is still one call.
        new_attributed = new_leaf = None
        if index < len(chain_ids) and state.counted_app.first_sight(
            chain_ids[index], chain_codes[index], positions, chain_codes
        ):
            new_attributed = stack[position]
        if state.counted_leaf.first_sight(chain_ids[0], chain_codes[0], positions, chain_codes):
            new_leaf = stack[-1]
        state.chain_ids, state.chain_codes, state.labels = chain_ids, chain_codes, labels
        state.positions = positions
        state.leaf_id, state.leaf_code, state.parent_id = leaf_id, leaf_code, parent_id
        state.lasti, state.stack = lasti, stack
        state.idle, state.blocked, state.gil_checkable = self._leaf_state(stack, leaf_code, lasti)
        idle, on_cpu = self._running(state, rate, gil_wait)
        return (stack, idle, interval if on_cpu else 0.0, interval, new_attributed, new_leaf)

    def _route_of(self, frame_mark: Mark | None, thread_mark: Mark | None) -> int:
        """The route label of a sample: its stack's request frame, else its thread's request."""
        assert self.endpoints is not None
        return self.endpoints.route_id(frame_mark if frame_mark is not None else thread_mark)

    def _running(self, state: _ThreadState, rate: float, gil_wait: bool) -> tuple[bool, bool]:
        """(idle, on the CPU) for a sample of a thread whose leaf state is known.

        A thread that ran just now and waits for the GIL at the end of a blocking call
        is running; one that waits for it after a sleep without having run stays idle.
        An event loop whose Python leaf is its own driver (uvloop polls in C, below
        `Runner.run`) is idle when it did not run, and its own work when it did.
        """
        ran = rate >= RECENT_CPU_FRACTION
        if ran and gil_wait and state.gil_checkable:
            return False, True
        if not ran and state.stack and self._is_loop_driver(state.stack[-1]):
            return True, False
        return state.idle, ran and not state.blocked

    def _is_loop_driver(self, leaf: int) -> bool:
        driver = self._driver_labels.get(leaf)
        if driver is None:
            driver = self._driver_labels[leaf] = is_loop_driver(self.labeler.label(leaf).function_name)
        return driver

    def _attributed_position(self, stack: Stack) -> int:
        """Index in `stack` of its innermost application frame, else of its leaf."""
        found = self._app_index.get(stack)
        if found is not None:
            return found
        is_app = self.labeler.is_app
        position = len(stack) - 1
        for index in range(len(stack) - 1, -1, -1):
            if is_app(stack[index]):
                position = index
                break
        if len(self._app_index) >= MAX_INDEXED_STACKS or self._app_index_frames >= MAX_INDEXED_FRAMES:
            self._app_index.clear()
            self._app_index_frames = 0
        self._app_index[stack] = position
        self._app_index_frames += len(stack)
        return position

    def _leaf_state(self, stack: Stack, code: CodeType, lasti: int) -> tuple[bool, bool, bool]:
        """(idle, off the CPU, maybe back from the call): from the leaf function or what it calls.

        Idle: a known wait function at the leaf, or the leaf calling a built-in that
        only waits. Off the CPU: idle, or calling a blocking built-in. The last flag
        marks a blocking built-in that a thread waiting for the GIL may still show.
        """
        leaf = stack[-1]
        idle = self._idle_labels.get(leaf)
        if idle is None:
            idle = self._idle_labels[leaf] = is_idle_function(self.labeler.label(leaf).function_name)
        if idle:
            return True, True, False
        callee = self._callees.callee(code, lasti)
        if callee is None:
            return False, False, False
        return callee in IDLE_CALLEES, callee in BLOCKING_CALLEES, callee in GIL_RETURN_CALLEES

    def _record(self, now: float, records: list[tuple], unmeasured: int, discarded: int) -> None:
        gc_secs = self.gc_timer.take()
        store = self.store
        with store.lock:
            previous = store.newest()
            bucket = store.bucket_at(now)
            bucket.ticks += 1
            bucket.gc_secs += gc_secs
            bucket.unmeasured_samples += unmeasured
            bucket.discarded_samples += discarded
            for stack, idle, cpu_secs, wall, new_attributed, new_leaf in records:
                if idle:
                    bucket.idle_samples += 1
                else:
                    store.add_busy(bucket, stack, cpu_secs, wall)
                    if new_attributed is not None:
                        bucket.app_calls[new_attributed] = bucket.app_calls.get(new_attributed, 0) + 1
                    if new_leaf is not None:
                        bucket.leaf_calls[new_leaf] = bucket.leaf_calls.get(new_leaf, 0) + 1
        if previous is not None and previous is not bucket and self.history is not None:
            self._to_history(previous, now)

    def _to_history(self, closed: Bucket, now: float) -> None:
        """Hand a bucket that just closed (it is never written again) to the history.

        Its wall-clock start is the wall clock now less how long ago, by the monotonic
        clock, the bucket began.
        """
        assert self.history is not None
        secs = self.store.bucket_secs
        self.history.add(closed, self._wall_clock() - (now - closed.index * secs), secs)

    def attributed_position(self, stack: Stack) -> int:
        return self._attributed_position(stack)
