"""Where and when the profiler starts: once per serving process, after the fork.

`profiling.asgi.wrap()` and `profiling.wsgi.wrap()` run when a server imports the host's
entry point. That is a serving process, except in gunicorn's master with `--preload`
(`preload_app`), which imports the application and then forks its workers: threads
started there would not survive the fork, and the master serves nothing, so it would be
a phantom instance. There nothing starts; a fork hook starts the profiler in each worker
the master forks. Everywhere else `wrap()` starts it at once (when AUTOSTART is on), and
every request checks the process id too (cheap), so a process forked some other way
starts its own on its first request. Management commands and tests never import the
entry points, so they start nothing unless they ask.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from profiling.core.runtime import ProfilingRuntime

logger = logging.getLogger(__name__)

_fork_hook_registered = False
_fork_hook_lock = threading.Lock()


def in_gunicorn_master() -> bool:
    """Whether this call is gunicorn's master importing the application (`--preload`).

    The master loads the application from its arbiter (gunicorn/arbiter.py); a worker loads
    it from the worker's own init (gunicorn/workers/), though its stack holds the arbiter's
    frames too, since the arbiter forked it.
    """
    if "gunicorn.arbiter" not in sys.modules:
        return False
    frame = sys._getframe(1)
    in_arbiter = False
    while frame is not None:
        filename = frame.f_code.co_filename.replace("\\", "/")
        if "/gunicorn/workers/" in filename or "/uvicorn/workers" in filename:
            return False
        if filename.endswith("/gunicorn/arbiter.py"):
            in_arbiter = True
        frame = frame.f_back
    return in_arbiter


def autostart(profiler: ProfilingRuntime, enabled: bool) -> None:
    """Start the profiler in this serving process, or in each worker a pre-fork master forks."""
    if not enabled or not profiler.config.enabled:
        return
    if in_gunicorn_master():
        _start_in_forked_children(profiler)
        logger.info("gunicorn master (preload): the profiler starts in each worker, not here")
        return
    profiler.ensure_running()


def _start_in_forked_children(profiler: ProfilingRuntime) -> None:
    global _fork_hook_registered
    with _fork_hook_lock:
        if _fork_hook_registered or not hasattr(os, "register_at_fork"):
            return
        _fork_hook_registered = True
    master = os.getpid()

    def start_in_child() -> None:
        # Only the master's own children (its workers); the runtime's own fork hook has
        # already forgotten the parent's threads.
        if os.getppid() == master:
            try:
                profiler.ensure_running()
            except Exception:  # never take a worker down for the profiler
                logger.warning("the profiler could not start in a forked worker", exc_info=True)

    os.register_at_fork(after_in_child=start_in_child)


def profiling_paths() -> tuple[str, ...]:
    """The URL prefixes of the app's API and pages in the host's URLconf (no script prefix)."""
    from django.urls import NoReverseMatch, get_script_prefix, reverse, set_script_prefix

    saved = get_script_prefix()
    set_script_prefix("/")
    try:
        api = reverse("profiling:memory").rsplit("memory", 1)[0]
        pages = reverse("profiling:dashboard")
    except NoReverseMatch:  # the app's URLs are not included: nothing to limit
        return ()
    finally:
        set_script_prefix(saved)
    return (api, pages)
