"""Per-thread CPU clocks: how much CPU time a thread used between two samples."""

from __future__ import annotations

import time


class ThreadCpuClock:
    """Read a thread's CPU seconds by its ident (pthread_getcpuclockid + clock_gettime).

    Clock ids are cached per ident; a read that fails (the thread ended, or an
    ident was reused) forgets the cached id and returns None. Platforms without
    per-thread clocks always return None, and the reports say so.
    """

    def __init__(self) -> None:
        self._clock_ids: dict[int, int] = {}
        self.available = hasattr(time, "pthread_getcpuclockid") and hasattr(time, "clock_gettime")

    def read(self, ident: int) -> float | None:
        if not self.available:
            return None
        clock_id = self._clock_ids.get(ident)
        if clock_id is None:
            try:
                clock_id = time.pthread_getcpuclockid(ident)
            except (OSError, OverflowError, ValueError):
                return None
            self._clock_ids[ident] = clock_id
        try:
            return time.clock_gettime(clock_id)
        except OSError:
            self._clock_ids.pop(ident, None)
            return None

    def forget(self, ident: int) -> None:
        self._clock_ids.pop(ident, None)
