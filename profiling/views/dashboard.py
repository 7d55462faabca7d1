"""The dashboard page, staff only; its data comes from the API and the live feed."""

from __future__ import annotations

from django.contrib.auth.decorators import user_passes_test
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from profiling.conf import runtime

FEED_PATH = "/ws/profiling/live/"
API_ROOT = "/api/profiling/"


def is_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


@require_GET
@user_passes_test(is_staff)  # anyone else goes to the login page
@ensure_csrf_cookie
def dashboard(request):
    profiler = runtime()
    return render(
        request,
        "dashboard/index.html",
        {
            "instance": profiler.instance,
            "interval_secs": profiler.config.memory_interval_secs,
            "profiling_enabled": profiler.config.enabled,
            "feed_path": FEED_PATH,
            "api_root": API_ROOT,
        },
    )
