"""Per-thread CPU clocks: how much CPU time a thread used between two samples."""

from __future__ import annotations

import sys
import threading
import time

# Linux encodes a thread's CPU clock id from its kernel thread id (include/linux/posix-timers.h:
# MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), which glibc's pthread_getcpuclockid returns).
_CPUCLOCK_SCHED = 2
_CPUCLOCK_PERTHREAD_MASK = 4


def thread_clock_id(native_id: int) -> int:
    """The CPU clock id of the thread with this kernel thread id (Linux)."""
    return (~native_id << 3) | _CPUCLOCK_SCHED | _CPUCLOCK_PERTHREAD_MASK


def _formula_matches() -> bool:
    """Check the encoding against pthread_getcpuclockid on the calling (live) thread."""
    if not sys.platform.startswith("linux") or not hasattr(time, "pthread_getcpuclockid"):
        return False
    try:
        expected = time.pthread_getcpuclockid(threading.get_ident())
        return thread_clock_id(threading.get_native_id()) == expected and time.clock_gettime(expected) >= 0
    except (OSError, AttributeError):
        return False


class ThreadCpuClock:
    """Read a thread's CPU seconds by its ident, safely for threads that just ended.

    `time.pthread_getcpuclockid(ident)` reads the thread's pthread structure, which
    is freed memory once the thread has ended: a thread that exits between
    `sys._current_frames()` and the read crashes the process (seen under load, when
    asgiref starts and ends threads per request). So the clock id is built from the
    kernel thread id (`Thread.native_id`) instead; for a thread that has ended,
    `clock_gettime` fails with EINVAL and the read returns None.
    """

    def __init__(self) -> None:
        self.available = _formula_matches()

    def read(self, ident: int) -> float | None:
        if not self.available:
            return None
        thread = getattr(threading, "_active", {}).get(ident)
        native_id = getattr(thread, "native_id", None)
        if native_id is None:
            return None
        try:
            return time.clock_gettime(thread_clock_id(native_id))
        except OSError:
            return None

    def forget(self, ident: int) -> None:
        """Nothing is cached per thread; kept for the sampler's bookkeeping."""
