"""Fake frames, clocks and GC timers that drive the stack sampler with exact values."""

from __future__ import annotations

import dis
from pathlib import Path

from profiling.core.stacks.labels import CodeLabeler
from profiling.core.stacks.sampler import StackSampler

ROOT = Path(__file__).resolve().parent.parent.parent


class FakeFrame:
    """Just what the sampler reads of a frame."""

    def __init__(self, code, module: str, back: FakeFrame | None = None, lasti: int = 0):
        self.f_code = code
        self.f_globals = {"__name__": module}
        self.f_back = back
        self.f_lasti = lasti


def stack_of(*functions, lasti: int = 0) -> FakeFrame:
    """A chain of frames, outermost first; returns the innermost."""
    frame = None
    for function in functions:
        frame = FakeFrame(function.__code__, function.__module__, frame)
    assert frame is not None
    frame.f_lasti = lasti
    return frame


def call_offset(function, callee: str) -> int:
    """The offset of the CALL in `function` whose callee is named `callee`."""
    instructions = list(dis.get_instructions(function))
    for index, ins in enumerate(instructions):
        if ins.argval == callee and ins.opname.startswith("LOAD_"):
            for later in instructions[index:]:
                if later.opname.startswith("CALL"):
                    return later.offset
    raise AssertionError(f"no call of {callee} in {function}")


class FakeGcTimer:
    def __init__(self) -> None:
        self.pending = 0.0
        self.installed = False

    def install(self) -> None:
        self.installed = True

    def uninstall(self) -> None:
        self.installed = False

    def take(self) -> float:
        taken, self.pending = self.pending, 0.0
        return taken


class Driver:
    """A sampler fed by hand: set frames, threads and CPU clocks, then `sample(now)`."""

    def __init__(self, sample_hz: float = 10.0, **kwargs) -> None:
        self.frames: dict = {}
        self.threads: dict = {}
        self.cpu: dict[int, float] = {}
        self.wants_cpu: dict[int, bool] = {}
        self.gc = FakeGcTimer()
        self.now = 0.0
        self.sampler = StackSampler(
            sample_hz,
            clock=lambda: self.now,
            frames=lambda: self.frames,
            threads=lambda: self.threads,
            thread_cpu=self.cpu.get,
            wants_cpu=self.wants_cpu.get,
            labeler=CodeLabeler(project_root=str(ROOT)),
            gc_timer=self.gc,
            **kwargs,
        )

    def sample(self, now: float) -> None:
        self.now = now
        self.sampler.sample(now)

    def totals(self, window: float = 60.0):
        return self.sampler.store.window(self.now, window)
