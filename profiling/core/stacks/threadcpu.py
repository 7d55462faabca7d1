"""Per-thread CPU clocks and system calls: how much CPU a thread used, and what it waits in."""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import threading
import time
from collections.abc import Callable

# Linux encodes a thread's CPU clock id from its kernel thread id (include/linux/posix-timers.h:
# MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), which glibc's pthread_getcpuclockid returns).
_CPUCLOCK_SCHED = 2
_CPUCLOCK_PERTHREAD_MASK = 4

# The futex system call's number (arch/*/syscall tables): a thread that waits for a lock
# or for the GIL is in it.
FUTEX_SYSCALLS = {"x86_64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "i686": 240, "i386": 240}

NativeIds = Callable[[int], "int | None"]


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


def refresh_native_id() -> None:
    """Give the calling thread's `Thread` its real kernel thread id.

    After `os.fork()`, CPython 3.11 keeps the parent's thread id in the child's
    `Thread.native_id` (only the ident is reset), so a clock built from it reads
    another process's thread (EINVAL): a gunicorn worker's main thread was never
    measured. Run in every forked child, before anything reads the id.
    """
    thread = threading.current_thread()
    setter = getattr(thread, "_set_native_id", None)
    if setter is not None and getattr(thread, "native_id", None) != threading.get_native_id():
        setter()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=refresh_native_id)


def native_id_of(ident: int) -> int | None:
    """The kernel thread id of a live thread known to `threading`, by its ident."""
    thread = getattr(threading, "_active", {}).get(ident)
    return getattr(thread, "native_id", None)


def stale_main_fallback(ident: int, native_id: int) -> int | None:
    """The process id for a main thread whose kernel id could not be used, else None.

    The main thread's kernel id is the process id (Linux): when a forked child's main
    thread still holds its parent's id (this module imported after the fork, so the
    hook above never ran), reading by that id fails and the process id is right.
    """
    pid = os.getpid()
    main = threading.main_thread()
    return pid if native_id != pid and main.ident == ident else None


class ThreadCpuClock:
    """Read a thread's CPU seconds by its ident, safely for threads that just ended.

    `time.pthread_getcpuclockid(ident)` reads the thread's pthread structure, which
    is freed memory once the thread has ended: a thread that exits between
    `sys._current_frames()` and the read crashes the process (seen under load, when
    asgiref starts and ends threads per request). So the clock id is built from the
    kernel thread id (`Thread.native_id`) instead; for a thread that has ended,
    `clock_gettime` fails with EINVAL and the read returns None.
    """

    def __init__(self, native_ids: NativeIds = native_id_of) -> None:
        self.available = _formula_matches()
        self._native_ids = native_ids

    def read(self, ident: int) -> float | None:
        if not self.available:
            return None
        native_id = self._native_ids(ident)
        if native_id is None:
            return None
        try:
            return time.clock_gettime(thread_clock_id(native_id))
        except OSError:
            fallback = stale_main_fallback(ident, native_id)
            if fallback is None:
                return None
        try:
            return time.clock_gettime(thread_clock_id(fallback))
        except OSError:
            return None

    def forget(self, ident: int) -> None:
        """Nothing is cached per thread; kept for the sampler's bookkeeping."""


class ThreadSyscalls:
    """Whether a thread of this process wants the CPU, from `/proc/self/task/<tid>/syscall`.

    A thread that has finished a blocking call (a socket write, a sleep) but waits to
    take the GIL back still shows that call as its Python frame's callee; so does one
    the kernel is running in a non-blocking call (an event loop's socket reads). The
    file tells them from a thread blocked in the call: `running`, or the futex of the
    GIL's condition, against the call's own number. It is read with libc through
    `ctypes.PyDLL`, which keeps the GIL (an `os.read` would let other threads run in
    the middle of a sample).
    """

    def __init__(self, native_ids: NativeIds = native_id_of) -> None:
        self._native_ids = native_ids
        self._futex = FUTEX_SYSCALLS.get(platform.machine())
        self._libc = None
        if sys.platform.startswith("linux") and self._futex is not None:
            try:
                libc = ctypes.PyDLL(None, use_errno=True)
                libc.open.argtypes = [ctypes.c_char_p, ctypes.c_int]
                libc.read.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
                libc.read.restype = ctypes.c_ssize_t
                libc.close.argtypes = [ctypes.c_int]
                self._libc = libc
            except (OSError, AttributeError):
                self._libc = None
        self._buffer = ctypes.create_string_buffer(32)
        self.available = self._libc is not None and self.wants_cpu(threading.get_ident()) is not None

    def wants_cpu(self, ident: int) -> bool | None:
        """True in a futex wait or running, False in another system call, None when it cannot be read.

        A thread the kernel runs (or would run: `running`) is on the CPU, whatever call
        its frame shows: a non-blocking socket read or write is CPU work.
        """
        libc = self._libc
        native_id = self._native_ids(ident) if libc is not None else None
        if native_id is None:
            return None
        fd = libc.open(f"/proc/self/task/{native_id}/syscall".encode(), os.O_RDONLY | os.O_CLOEXEC)
        if fd < 0:
            fallback = stale_main_fallback(ident, native_id)
            if fallback is None:
                return None
            fd = libc.open(f"/proc/self/task/{fallback}/syscall".encode(), os.O_RDONLY | os.O_CLOEXEC)
            if fd < 0:
                return None
        try:
            size = libc.read(fd, self._buffer, len(self._buffer) - 1)
        finally:
            libc.close(fd)
        if size <= 0:
            return None
        first = self._buffer.raw[:size].split(b" ", 1)[0].strip()
        if first == b"running":
            return True
        return first.isdigit() and int(first) == self._futex
