"""A view that allocates a requested number of bytes and keeps them alive (tests only).

Only the marked line allocates: the slot, the size and the response come from helpers,
so the bytes traced to `allocate` are exactly those of the blocks it keeps.
"""

from __future__ import annotations

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
