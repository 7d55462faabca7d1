"""The stack sampler: every thread's Python stack, a few times a second, on or off the CPU."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType

from profiling.core.periodic import PeriodicWorker
from profiling.core.stacks.exact import ExactCallCounter, all_threads_installer
from profiling.core.stacks.gctime import GcTimer
from profiling.core.stacks.idle import CalleeReader, is_idle_function
from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.store import Stack, StackStore
from profiling.core.stacks.threadcpu import ThreadCpuClock

PROFILER_THREAD_PREFIX = "riptide-"
MAX_DEPTH = 128

FrameSource = Callable[[], Mapping[int, FrameType]]
ThreadSource = Callable[[], Mapping[int, threading.Thread]]
CpuSource = Callable[[int], "float | None"]


def _active_threads() -> Mapping[int, threading.Thread]:
    # threading's own registry, read without a copy (enumerate() would copy it each tick).
    return getattr(threading, "_active", {})


class _ThreadState:
    """What the sampler remembers of one thread between two samples."""

    __slots__ = (
        "thread",
        "excluded",
        "last_time",
        "last_cpu",
        "leaf",
        "lasti",
        "stack",
        "idle",
        "attributed",
        "chain",
        "ids",
        "positions",
    )

    def __init__(self, thread: threading.Thread | None, excluded: bool):
        self.thread = thread
        self.excluded = excluded
        self.last_time: float | None = None
        self.last_cpu: float | None = None
        # The innermost frame and the attributed (app) frame of the last sample,
        # held so that `is` tells a call still running from a new one.
        self.leaf: FrameType | None = None
        self.lasti = -1
        self.stack: Stack = ()
        self.idle = False
        self.attributed: FrameType | None = None
        # The last walked stack, innermost first, and each frame's position by id
        # (the frames are held, so their ids cannot be reused meanwhile).
        self.chain: list[FrameType] = []
        self.ids: list[int] = []
        self.positions: dict[int, int] = {}


class StackSampler(PeriodicWorker):
    """Sample every thread's stack at `sample_hz` into a `StackStore`.

    Each sample of a thread stands for the wall time since that thread's previous
    sample, of which its per-thread CPU clock says how much it spent on the CPU.
    Profiler threads (named `riptide-*`) and the sampler itself are never sampled.
    """

    thread_name = "riptide-stack-sampler"

    def __init__(
        self,
        sample_hz: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        frames: FrameSource = sys._current_frames,
        threads: ThreadSource = _active_threads,
        thread_cpu: CpuSource | None = None,
        labeler: CodeLabeler | None = None,
        store: StackStore | None = None,
        gc_timer: GcTimer | None = None,
        max_window_secs: float = 600.0,
        full: bool = False,
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
        self.cpu_clock_available = thread_cpu is not None or self._cpu_clock.available
        self.labeler = labeler or CodeLabeler.shared()
        self.store = store or StackStore(
            max_window_secs=max_window_secs, other_stack=(self.labeler.other_stacks_id,)
        )
        self.gc_timer = gc_timer or GcTimer()
        self._callees = CalleeReader.shared()
        self._states: dict[int, _ThreadState] = {}
        self._app_index: dict[Stack, int] = {}
        self._idle_labels: dict[int, bool] = {}
        # One sample stands for at most this long (after a stall of the sampler).
        self.max_gap_secs = max(1.0, 5.0 / sample_hz)
        # Exact call counts over bounded windows, only with full profiling.
        self.exact = ExactCallCounter(self.labeler, installer=all_threads_installer()) if full else None

    # -- lifecycle ---------------------------------------------------------------------

    def on_start(self) -> None:
        self.gc_timer.install()
        self.gc_timer.take()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self.gc_timer.uninstall()
        if self.exact is not None:
            self.exact.stop()
        self._states.clear()

    # -- sampling ----------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def tick(self) -> None:
        if self.exact is not None:
            self.exact.poll()
        self.sample(self._clock())

    def sample(self, now: float) -> None:
        """Take one sample of every thread at monotonic time `now`."""
        frames = self._frames()
        active = self._threads()
        own = threading.get_ident()
        states = self._states
        records = []
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
            last_time, last_cpu = state.last_time, state.last_cpu
            state.last_time, state.last_cpu = now, cpu
            if last_time is None:
                continue  # first sight: only the baseline
            wall = now - last_time
            if wall <= 0:
                continue
            if wall > self.max_gap_secs:
                wall = self.max_gap_secs
            if cpu is None or last_cpu is None:
                records.append((None, False, 0.0, wall, None, None))
                continue
            cpu_delta = min(max(cpu - last_cpu, 0.0), wall)
            records.append(self._observe(state, frame, cpu_delta, wall))
        if len(states) > len(frames):
            for ident in [i for i in states if i not in frames]:
                del states[ident]
                self._cpu_clock.forget(ident)
        del frames
        self._record(now, records)

    def _observe(self, state: _ThreadState, frame: FrameType, cpu_delta: float, wall: float) -> tuple:
        """One thread's sample: (stack, idle, cpu secs, wall secs, label of a new attributed call, of a new leaf call)."""
        new_attributed = new_leaf = None
        if frame is state.leaf:  # the same call is still running: same stack
            if frame.f_lasti != state.lasti:
                state.lasti = frame.f_lasti
                state.idle = self._is_idle(state.stack, frame, cpu_delta < 0.5 * wall)
            return (state.stack, state.idle, cpu_delta, wall, None, None)
        # Walk out from the leaf until a frame the last sample already walked: the
        # rest of the stack is unchanged, and its labels are reused.
        previous, previous_ids, previous_at = state.chain, state.ids, state.positions
        chain: list[FrameType] = []
        ids: list[int] = []
        by_code = self.labeler.cached_id
        current: FrameType | None = frame
        while current is not None:
            at = previous_at.get(id(current))
            if at is not None and previous[at] is current:
                chain.extend(previous[at:])
                ids.extend(previous_ids[at:])
                break
            if len(chain) >= MAX_DEPTH:
                ids.append(self.labeler.truncated_id)
                break
            chain.append(current)
            code = current.f_code
            label = by_code(code)
            if label is None:
                label = self.labeler.label_id(code, current.f_globals.get("__name__"))
            ids.append(label)
            current = current.f_back
        if len(chain) > MAX_DEPTH:  # a reused outer part made it deeper than the cap
            del chain[MAX_DEPTH:]
            ids = ids[:MAX_DEPTH] + [self.labeler.truncated_id]
        state.chain, state.ids = chain, ids
        state.positions = {id(f): i for i, f in enumerate(chain)}
        ids = ids[::-1]
        stack = self.store.intern(tuple(ids))
        position = self._attributed_position(stack)
        # chain is innermost first; stack is outermost first
        attributed = chain[len(stack) - 1 - position] if len(stack) - 1 - position < len(chain) else frame
        if attributed is not state.attributed:
            new_attributed = stack[position]
        new_leaf = stack[-1]
        state.leaf, state.lasti, state.stack, state.attributed = frame, frame.f_lasti, stack, attributed
        state.idle = self._is_idle(stack, frame, cpu_delta < 0.5 * wall)
        return (stack, state.idle, cpu_delta, wall, new_attributed, new_leaf)

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
        if len(self._app_index) >= 20_000:
            self._app_index.clear()
        self._app_index[stack] = position
        return position

    def _is_idle(self, stack: Stack, frame: FrameType, mostly_off_cpu: bool) -> bool:
        """A known wait function at the leaf, or a thread mostly off the CPU in a blocking call."""
        leaf = stack[-1]
        idle = self._idle_labels.get(leaf)
        if idle is None:
            idle = self._idle_labels[leaf] = is_idle_function(self.labeler.label(leaf).function_name)
        # Reading the callee costs a disassembly per new code object: only for threads
        # that barely ran, which are the only ones a blocking call can explain.
        return idle or (mostly_off_cpu and self._callees.is_idle_call(frame.f_code, frame.f_lasti))

    def _record(self, now: float, records: list[tuple]) -> None:
        gc_secs = self.gc_timer.take()
        store = self.store
        with store.lock:
            bucket = store.bucket_at(now)
            bucket.ticks += 1
            bucket.gc_secs += gc_secs
            for stack, idle, cpu_delta, wall, new_attributed, new_leaf in records:
                if stack is None:
                    bucket.unmeasured_samples += 1
                elif idle:
                    bucket.idle_samples += 1
                else:
                    store.add_busy(bucket, stack, cpu_delta, wall)
                    if new_attributed is not None:
                        bucket.app_calls[new_attributed] = bucket.app_calls.get(new_attributed, 0) + 1
                    if new_leaf is not None:
                        bucket.leaf_calls[new_leaf] = bucket.leaf_calls.get(new_leaf, 0) + 1

    def attributed_position(self, stack: Stack) -> int:
        return self._attributed_position(stack)
