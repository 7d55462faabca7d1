"""Recognise a thread that is waiting for work rather than doing it.

A sample is idle when its innermost Python frame is one of the standard waits
(an event loop polling its selector, a pool worker waiting for a task, a queue
get, a Condition/Event wait, a socket accept) or is calling one of the blocking
built-ins that only wait (time.sleep, select, poll, accept, signal waits). The
callee of the innermost frame is read from the instruction it is executing: the
name loaded for the CALL at `f_lasti` (cached per code object and offset).
"""

from __future__ import annotations

import dis
from types import CodeType

# `module.qualname` of Python functions whose frame, when innermost, is a wait.
IDLE_FUNCTIONS = frozenset(
    {
        "threading.Condition.wait",
        "threading.Condition.wait_for",
        "threading.Event.wait",
        "threading.Semaphore.acquire",
        "threading.Barrier.wait",
        "threading.Thread.join",
        "threading.Thread._wait_for_tstate_lock",
        "queue.Queue.get",
        "selectors.SelectSelector.select",
        "selectors.PollSelector.select",
        "selectors.EpollSelector.select",
        "selectors.DevpollSelector.select",
        "selectors.KqueueSelector.select",
        "selectors._PollLikeSelector.select",
        "socket.socket.accept",
        "socketserver.BaseServer.serve_forever",
        "concurrent.futures.thread._worker",
        "multiprocessing.pool.worker",
        "multiprocessing.connection.wait",
        # A pipe to a supervising process, read for its whole life (uvicorn's worker
        # answering its supervisor's health checks).
        "multiprocessing.connection.Connection._recv",
        "multiprocessing.connection.Connection._recv_bytes",
        "multiprocessing.connection.Connection.recv",
        "multiprocessing.connection.Connection.poll",
        "subprocess.Popen._wait",
        "asyncio.base_events.BaseEventLoop._run_once",
    }
)

# Built-ins that block without working, when called from the innermost frame.
IDLE_CALLEES = frozenset(
    {
        "sleep",
        "select",
        "poll",
        "epoll",
        "kqueue",
        "accept",
        "pause",
        "sigwait",
        "sigtimedwait",
        "sigwaitinfo",
    }
)

# Built-ins that, called from the innermost frame, leave the thread off the CPU (waiting
# for the network, a pipe, a lock or a child) while its request is still busy. The
# waits above are among them.
BLOCKING_CALLEES = IDLE_CALLEES | frozenset(
    {
        "recv",
        "recv_into",
        "recvfrom",
        "recvfrom_into",
        "recvmsg",
        "send",
        "sendall",
        "sendto",
        "sendmsg",
        "connect",
        "connect_ex",
        "read",
        "readinto",
        "readline",
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname_ex",
        "getnameinfo",
        "acquire",
        "acquire_lock",
        "waitpid",
        "wait3",
        "wait4",
        "waitid",
        "lockf",
        "flock",
        "fsync",
        "fdatasync",
    }
)

# Blocking built-ins that wait on a futex themselves: for these, a thread in a futex wait
# may be waiting for the lock, not for the GIL.
LOCK_CALLEES = frozenset({"acquire", "acquire_lock"})
# Blocking built-ins a thread may look as if it were in while the kernel runs it there
# (a non-blocking socket) or it is done with them and waits for the GIL to come back
# (see ThreadSyscalls). Not the waits: a thread back from a sleep has been idle.
GIL_RETURN_CALLEES = BLOCKING_CALLEES - LOCK_CALLEES - IDLE_CALLEES

MAX_CACHED = 20_000


# `module.qualname` of the functions that drive an event loop: as the innermost Python
# frame they mean the loop itself runs (in C under uvloop: polling, or its own I/O work).
LOOP_DRIVERS = frozenset(
    {
        "asyncio.runners.Runner.run",
        "asyncio.runners.run",
        "asyncio.base_events.BaseEventLoop.run_until_complete",
        "asyncio.base_events.BaseEventLoop.run_forever",
    }
)


def is_loop_driver(function_name: str) -> bool:
    return function_name in LOOP_DRIVERS


def is_idle_function(function_name: str) -> bool:
    return function_name in IDLE_FUNCTIONS


class CalleeReader:
    """Name the function a frame is calling at instruction offset `lasti` (or None)."""

    _shared: CalleeReader | None = None

    @classmethod
    def shared(cls) -> CalleeReader:
        """The process's reader: what a code object calls is the same for every sampler."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def __init__(self) -> None:
        self._calls: dict[CodeType, dict[int, str]] = {}

    def callee(self, code: CodeType, lasti: int) -> str | None:
        calls = self._calls.get(code)
        if calls is None:
            if len(self._calls) >= MAX_CACHED:
                self._calls.clear()
            calls = self._calls[code] = _call_targets(code)
        return calls.get(lasti)

    def cached(self, code: CodeType, lasti: int) -> str | None:
        """The callee if this code object was read before, else None (no disassembly)."""
        calls = self._calls.get(code)
        return calls.get(lasti) if calls is not None else None

    def is_idle_call(self, code: CodeType, lasti: int) -> bool:
        return self.callee(code, lasti) in IDLE_CALLEES


def _call_targets(code: CodeType) -> dict[int, str]:
    """Map each CALL (and PRECALL) instruction's offset to the name loaded as its callee.

    The callee is the last name-loading instruction before the CALL whose source
    span starts where the call expression starts and ends before it does
    (`time.sleep` in `time.sleep(0.1)`, `q.get` in `q.get()`).
    """
    targets: dict[int, str] = {}
    loads: list[dis.Instruction] = []
    try:
        instructions = list(dis.get_instructions(code))
    except Exception:  # malformed or exotic code objects: no callee known
        return targets
    for ins in instructions:
        if ins.opname.startswith("LOAD_") and isinstance(ins.argval, str):
            loads.append(ins)
            continue
        # A built-in's call runs inside PRECALL once the interpreter has specialized it
        # (CPython 3.11: PRECALL_NO_KW_BUILTIN_O...), so a frame waiting in `time.sleep`
        # shows PRECALL's offset: both instructions name the callee.
        if not ins.opname.startswith(("CALL", "PRECALL")) or ins.positions is None:
            continue
        pos = ins.positions
        best: dis.Instruction | None = None
        for load in reversed(loads[-16:]):
            lp = load.positions
            if lp is None or lp.lineno != pos.lineno or lp.col_offset != pos.col_offset:
                continue
            if (lp.end_lineno, lp.end_col_offset or 0) >= (pos.end_lineno, pos.end_col_offset or 0):
                continue
            if best is None or (lp.end_lineno, lp.end_col_offset or 0) > (
                best.positions.end_lineno,  # type: ignore[union-attr]
                best.positions.end_col_offset or 0,  # type: ignore[union-attr]
            ):
                best = load
        if best is not None:
            targets[ins.offset] = best.argval
    return targets
