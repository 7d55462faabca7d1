"""The project's ASGI application plus a thread burning CPU in a known function (tests only)."""

import threading

from riptide_dashboard.asgi import application  # noqa: F401  (starts the profiler)
from tests.stacks_workload import burn_cpu

_stop = threading.Event()
threading.Thread(target=burn_cpu, args=(_stop,), name="burner", daemon=True).start()
