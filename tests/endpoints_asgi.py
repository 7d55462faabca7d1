"""The project's ASGI application plus views with a known CPU split (tests only).

`/ep-test/heavy`, `/ep-test/medium` (an async view, on the event loop) and `/ep-test/light`
burn 60, 30 and 10 % of the work's CPU, each in a function of its own; `/ep-test/sleep`
sleeps; `/ep-test/fail` answers 500. `/ep-test/truth` gives the CPU each work function
used (its thread's own clock around every call).
"""

import importlib
import json
import threading
import time

from django.http import HttpResponse
from django.urls import path

from riptide_dashboard.asgi import application  # noqa: F401  (sets Django up, starts the profiler)

WORK_MS = {"heavy": 30.0, "medium": 15.0, "light": 5.0}
SLEEP_MS = 40.0
_lock = threading.Lock()
_truth = {name: 0.0 for name in WORK_MS}


def heavy_work(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(200):
            total += i * i
    return total


def medium_work(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(200):
            total += i * i
    return total


def light_work(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(200):
            total += i * i
    return total


def _timed(name: str, work) -> HttpResponse:
    started = time.thread_time()
    work(WORK_MS[name] / 1000.0)
    used = time.thread_time() - started
    with _lock:
        _truth[name] += used
    return HttpResponse("ok", content_type="text/plain")


def heavy_view(request):
    return _timed("heavy", heavy_work)


async def medium_view(request):
    return _timed("medium", medium_work)


def light_view(request):
    return _timed("light", light_work)


def sleep_view(request):
    time.sleep(SLEEP_MS / 1000.0)
    return HttpResponse("slept", content_type="text/plain")


def fail_view(request):
    return HttpResponse("failed on purpose", status=500, content_type="text/plain")


def truth_view(request):
    with _lock:
        return HttpResponse(json.dumps(_truth), content_type="application/json")


urls = importlib.import_module("riptide_dashboard.urls")  # once the apps are loaded
urls.urlpatterns[0:0] = [
    path("ep-test/heavy", heavy_view, name="ep-heavy"),
    path("ep-test/medium", medium_view, name="ep-medium"),
    path("ep-test/light", light_view, name="ep-light"),
    path("ep-test/sleep", sleep_view, name="ep-sleep"),
    path("ep-test/fail", fail_view, name="ep-fail"),
    path("ep-test/truth", truth_view, name="ep-truth"),
]
