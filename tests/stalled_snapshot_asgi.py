"""The project's ASGI application with a snapshot writer that stalls half-way (tests only).

The snapshot store's first `os.write` writes half of the payload into the temp file,
creates `writer-stalled` beside the snapshot directory, and then blocks, so a test can
SIGKILL the server in the middle of a snapshot write.
"""

import os
import threading

from profiling.core.memory import snapshots
from profiling.settings import profiling_settings
from riptide_dashboard.asgi import application  # noqa: F401  (starts the profiler)

STALL_MARKER = profiling_settings.SNAPSHOT_DIR.parent / "writer-stalled"


class _StallingOs:
    """`os` for the snapshot store, except that `write` stops half-way and never returns."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        os.write(fd, bytes(data[: max(1, len(data) // 2)]))
        STALL_MARKER.write_text(str(os.getpid()))
        threading.Event().wait(120)  # the test kills the process long before this ends
        raise OSError("the stalled writer was not killed")


snapshots.os = _StallingOs()
