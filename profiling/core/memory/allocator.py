"""glibc's own figures of the C heap (`mallinfo2()` via ctypes, ~0.2 us), or null and a note.

Formulas (bytes from mallinfo2):
- fragmentation_percent = 100 * (fordblks - keepcost) / arena: free bytes stranded between
  chunks of the heap arenas, as a share of those arenas. The releasable top chunk
  (keepcost) is not fragmentation: malloc_trim gives it back.
- efficiency_score = (uordblks + hblkhd) / (arena + hblkhd): bytes handed to the program
  over bytes malloc holds from the OS (arenas plus mmapped blocks); 1.0 wastes nothing.
pymalloc (CPython objects up to 512 bytes) takes its own 256 KiB arenas with mmap, so
those are outside these figures: they describe memory obtained through malloc.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

UNAVAILABLE_NOTE = "Allocator figures need glibc's mallinfo2 (glibc >= 2.33); this platform has none."


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@dataclass(frozen=True)
class AllocatorFigures:
    arena: int  # bytes in the heap arenas (brk and mmapped arenas)
    mmapped: int  # bytes in blocks mmapped on their own (hblkhd)
    in_use: int  # bytes allocated in the arenas (uordblks)
    free: int  # free bytes inside the arenas (fordblks)
    releasable: int  # the top chunk malloc_trim could give back (keepcost)

    @property
    def fragmentation_percent(self) -> float | None:
        if self.arena <= 0:
            return None
        return round(100.0 * max(0, self.free - self.releasable) / self.arena, 2)

    @property
    def efficiency_score(self) -> float | None:
        held = self.arena + self.mmapped
        if held <= 0:
            return None
        return round(min(1.0, (self.in_use + self.mmapped) / held), 4)

    def as_dict(self) -> dict:
        return {
            "arena_bytes": self.arena,
            "mmapped_bytes": self.mmapped,
            "in_use_bytes": self.in_use,
            "free_bytes": self.free,
            "releasable_bytes": self.releasable,
        }


def _load_mallinfo2():
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _Mallinfo2
    function.argtypes = []
    return function


_mallinfo2 = _load_mallinfo2()


def read_allocator() -> AllocatorFigures | None:
    """The C heap's figures now, or None where mallinfo2 does not exist."""
    if _mallinfo2 is None:
        return None
    info = _mallinfo2()
    return AllocatorFigures(
        arena=info.arena,
        mmapped=info.hblkhd,
        in_use=info.uordblks,
        free=info.fordblks,
        releasable=info.keepcost,
    )
