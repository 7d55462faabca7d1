"""Reading other threads' frames safely on CPython 3.11."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Long enough that no waiting thread forces a GIL switch during a pass of ~0.1-0.3 ms.
EXCLUSIVE_SWITCH_INTERVAL_SECS = 0.1


@contextmanager
def exclusive_pass() -> Iterator[None]:
    """Keep the GIL and the collector still while other threads' frames are read.

    On CPython 3.11 a frame its thread pops meanwhile can leave `f_back` pointing at
    freed memory (segfaults reported against several sampling profilers), and
    `sys._current_frames()` can deadlock against a collection it triggers (CPython
    gh-106883). Inside this block the collector is paused (no finalizer runs Python
    code) and the switch interval is raised so no waiting thread forces a switch.
    Keep the block short, do no I/O in it, and let no frame object outlive it.
    """
    gc_was_enabled = gc.isenabled()
    interval = sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(EXCLUSIVE_SWITCH_INTERVAL_SECS)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if gc_was_enabled:
            gc.enable()
