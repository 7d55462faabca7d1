"""The dashboard page, staff only; its data comes from the API and the live feed (or polling)."""

from __future__ import annotations

from django.contrib.auth.decorators import user_passes_test
from django.core.handlers.asgi import ASGIRequest
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from profiling.cluster import link_of
from profiling.conf import runtime
from profiling.routing import FEED_PATH
from profiling.security import CONTENT_SECURITY_POLICY


def is_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


@require_GET
@user_passes_test(is_staff, login_url=reverse_lazy("profiling:login"))  # anyone else goes to the login page
@ensure_csrf_cookie
def dashboard(request):
    profiler = runtime()
    profiler.ensure_running()
    response = render(
        request,
        "profiling/dashboard.html",
        {
            "instance": profiler.instance,
            "interval_secs": profiler.config.memory_interval_secs,
            "profiling_enabled": profiler.config.enabled,
            "shared": link_of(profiler) is not None,
            # WSGI servers have no websockets: the page then polls the samples endpoint.
            "feed_path": FEED_PATH if isinstance(request, ASGIRequest) else "",
            "api_root": reverse("profiling:memory").rsplit("memory", 1)[0],
        },
    )
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response
