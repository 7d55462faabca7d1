"""The project's ASGI application plus short CPU-bound sync views (tests only).

Django's ASGI handler runs each sync view in a thread of its own that lives for one
request (asgiref's per-request executor), so these views are what a profiler that needs
two sightings of a thread never sees. `GET /stacks-test/short?ms=N` burns N ms of CPU in
`short_request_work`; `GET /stacks-test/cpu` gives the CPU the work used so far and the
process's CPU time, so a test can compare the profile with the truth.
"""

import importlib
import json
import threading
import time

from django.http import HttpResponse
from django.urls import path

from riptide_dashboard.asgi import application  # noqa: F401  (sets Django up, starts the profiler)

_lock = threading.Lock()
_work = {"cpu_secs": 0.0, "calls": 0}


def short_request_work(secs: float) -> int:
    """Spin in pure Python until this thread has used `secs` of CPU."""
    end = time.thread_time() + secs
    total = 0
    while time.thread_time() < end:
        for i in range(200):
            total += i * i
    return total


def short_view(request):
    started = time.thread_time()
    short_request_work(float(request.GET.get("ms", "5")) / 1000.0)
    used = time.thread_time() - started
    with _lock:
        _work["cpu_secs"] += used
        _work["calls"] += 1
    return HttpResponse("ok", content_type="text/plain")


def _thread_cpu_secs(thread: threading.Thread) -> float:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, TypeError):
        return 0.0


def cpu_view(request):
    threads = threading.enumerate()
    with _lock:
        body = {
            **_work,
            "process_cpu_secs": time.process_time(),
            "main_thread_cpu_secs": _thread_cpu_secs(threading.main_thread()),
            "profiler_cpu_secs": sum(_thread_cpu_secs(t) for t in threads if t.name.startswith("riptide-")),
        }
    return HttpResponse(json.dumps(body), content_type="application/json")


urls = importlib.import_module("riptide_dashboard.urls")  # once the apps are loaded
urls.urlpatterns.insert(0, path("stacks-test/short", short_view))
urls.urlpatterns.insert(0, path("stacks-test/cpu", cpu_view))
