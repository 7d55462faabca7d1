"""A page cache that is never evicted: the demo's slow memory leak."""

from __future__ import annotations

import threading

# Stop growing past this, so a demo left running for days stays harmless.
MAX_ENTRIES = 60_000

_entries: dict[str, str] = {}
_lock = threading.Lock()


def insert(url: str, summary: str) -> None:
    """Keep `summary` for `url` forever (the leak: nothing ever removes an entry)."""
    with _lock:
        if len(_entries) < MAX_ENTRIES:
            _entries[url] = summary


def size() -> int:
    return len(_entries)
