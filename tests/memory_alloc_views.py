"""Views with planted memory behaviour for the server tests (tests only).

`allocate` allocates a requested number of bytes and keeps them alive; only its marked
line allocates: the slot, the size and the response come from helpers,
so the bytes traced to `allocate` are exactly those of the blocks it keeps.
"""

from __future__ import annotations

import threading
import time

from django.http import HttpResponse

MAX_BLOCKS = 16
_kept: list[bytes | None] = [None] * MAX_BLOCKS  # filled in place: no list growth in the view
_used = [0]


def _size(request) -> int:
    return int(request.GET["bytes"])


def _slot() -> int:
    slot = _used[0]
    _used[0] = slot + 1
    return slot


def _answer(slot: int) -> HttpResponse:
    return HttpResponse(f"kept block {slot}\n", content_type="text/plain")


def allocate(request):
    size = _size(request)
    slot = _slot()
    _kept[slot] = bytes(size)  # the planted allocation
    return _answer(slot)


class Store:
    """An application object held in a module-global list: the leak lives one level below it."""

    def __init__(self):
        self.entries: dict[int, bytes] = {}


_registry = [Store()]


def remember(request):
    """Keep `bytes` (default 3300) a request for ever in `_registry[0].entries`: the planted leak."""
    entries = _registry[0].entries
    entries[len(entries)] = bytes(int(request.GET.get("bytes", "3300")))
    return _answer(len(entries))


def churn(request):
    """Other work: big blocks allocated and let go."""
    blocks = [bytearray(1 << 20) for _ in range(8)]
    return _answer(len(blocks))


def _burn(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        for i in range(5000):
            total += i * i


def burn(request):
    """Start two threads that keep both cores busy for `secs` seconds (at most 30)."""
    seconds = min(30.0, float(request.GET.get("secs", "10")))
    for i in range(2):
        threading.Thread(target=_burn, args=(seconds,), name=f"memtest-burner-{i}", daemon=True).start()
    return _answer(2)
