"""What a heap snapshot holds, gathered from the running process."""

from __future__ import annotations

import gc
import os
import platform
import sys
import threading
from collections.abc import Sequence

from profiling.core.frames import exclusive_pass
from profiling.core.memory.census import Census
from profiling.core.samples import Sample
from profiling.core.timefmt import iso_utc

MAX_THREADS = 200
MAX_FRAMES = 50
MAX_SAMPLES = 120


def thread_stacks() -> list[dict]:
    """Every thread's current stack, innermost frame first."""
    threads = {t.ident: t for t in threading.enumerate()}
    with exclusive_pass():  # read other threads' frames only while they cannot run
        return _read_stacks(sys._current_frames(), threads)


def _read_stacks(frames: dict, threads: dict) -> list[dict]:
    stacks = []
    for ident, frame in list(frames.items())[:MAX_THREADS]:
        thread = threads.get(ident)
        stack = []
        while frame is not None and len(stack) < MAX_FRAMES:
            code = frame.f_code
            stack.append(
                {
                    "function": f"{frame.f_globals.get('__name__', '?')}.{code.co_qualname}",
                    "file": code.co_filename,
                    "line": frame.f_lineno,
                }
            )
            frame = frame.f_back
        stacks.append(
            {
                "ident": ident,
                "name": thread.name if thread else None,
                "daemon": thread.daemon if thread else None,
                "stack": stack,
            }
        )
    del frames
    return stacks


def sample_rows(samples: Sequence[Sample]) -> list[dict]:
    return [
        {
            "timestamp": iso_utc(s.timestamp),
            "rss_bytes": s.memory.rss,
            "virtual_bytes": s.memory.vms,
            "heap_bytes": s.memory.anon,
            "cpu_usage_percent": s.cpu.usage_percent,
            "process_cpu_percent": s.cpu.process_cpu_percent,
        }
        for s in list(samples)[-MAX_SAMPLES:]
    ]


def census_rows(census: Census) -> tuple[list[dict], list[dict]]:
    components = [
        {"component": name, "count": m.count, "size_bytes": m.size_bytes}
        for name, m in census.components.items()
    ]
    types = [{"type": name, "count": m.count, "size_bytes": m.size_bytes} for name, m in census.types.items()]
    return components, types


def process_info() -> dict:
    return {
        "pid": os.getpid(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "gc_counts": list(gc.get_count()),
        "gc_collections": [s.get("collections") for s in gc.get_stats()],
    }
