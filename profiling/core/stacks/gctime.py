"""Time spent in garbage collection, measured through `gc.callbacks`."""

from __future__ import annotations

import gc
import threading
import time

# [start of the running collection, total seconds so far]; one collection runs at a time.
_state = [0.0, 0.0]
_users = 0
_lock = threading.Lock()


def _on_gc(phase: str, info: dict, _now=time.perf_counter, _state=_state) -> None:
    if phase == "start":
        _state[0] = _now()
    else:
        _state[1] += _now() - _state[0]


class GcTimer:
    """Total seconds spent collecting garbage since the first timer was installed.

    The callback is shared by every timer in the process and removed when the last
    one is uninstalled; `take()` returns the seconds since this timer's last call.
    """

    def __init__(self) -> None:
        self._installed = False
        self._seen = 0.0

    @staticmethod
    def total() -> float:
        return _state[1]

    def install(self) -> None:
        global _users
        with _lock:
            if self._installed:
                return
            if _on_gc not in gc.callbacks:
                gc.callbacks.append(_on_gc)
            _users += 1
            self._installed = True
            self._seen = _state[1]

    def uninstall(self) -> None:
        global _users
        with _lock:
            if not self._installed:
                return
            self._installed = False
            _users -= 1
            if _users <= 0 and _on_gc in gc.callbacks:
                gc.callbacks.remove(_on_gc)
                _users = 0

    def take(self) -> float:
        total = _state[1]
        delta, self._seen = total - self._seen, total
        return max(0.0, delta)
