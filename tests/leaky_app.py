"""An application module with planted memory behaviour, for the leak and allocation tests."""

from __future__ import annotations

import threading
import time

_store: dict[int, bytes] = {}  # grows steadily while a Leaker runs: the planted leak
_table: dict[int, bytes] = {}  # filled once, then left alone: not a leak
_ring: list[bytearray] = []  # a few 1 MiB blocks replaced all the time: churn, not a leak


def fill_table(entries: int = 200, size: int = 4096) -> None:
    for i in range(entries):
        _table[i] = bytes(size)


def reset() -> None:
    _store.clear()
    _table.clear()
    _ring.clear()


class Leaker:
    """A thread that adds `chunk` bytes to `_store` every `period` seconds until stopped."""

    def __init__(self, chunk: int = 32 * 1024, period: float = 0.01):
        self.chunk = chunk
        self.period = period
        self.added = 0
        self.started: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-leaker", daemon=True)

    def _run(self) -> None:
        self.started = time.monotonic()
        i = 0
        next_due = self.started
        while not self._stop.is_set():
            _store[i] = bytes(self.chunk)
            self.added += self.chunk
            i += 1
            next_due += self.period
            self._stop.wait(max(0.0, next_due - time.monotonic()))

    def rate_bytes_per_sec(self) -> float:
        assert self.started is not None
        return self.added / (time.monotonic() - self.started)

    def start(self) -> Leaker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def churn_blocks(stop: threading.Event, keep: int = 3, period: float = 0.005) -> None:
    """Allocate 1 MiB blocks and drop the oldest, keeping `keep` alive: a steady level."""
    while not stop.is_set():
        _ring.append(bytearray(1 << 20))
        if len(_ring) > keep:
            _ring.pop(0)
        stop.wait(period)
