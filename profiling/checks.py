"""System checks: what a host project can get wrong, reported by `manage.py check` with the fix."""

from __future__ import annotations

import importlib.util
import threading

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from profiling.settings import profiling_settings


def _exact_counts_supported() -> bool:
    # PROFILING_FULL's exact counts hook running threads through this (Python 3.12+).
    return hasattr(threading, "setprofile_all_threads")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@register()
def check_settings(app_configs=None, **kwargs):
    try:
        profiling_settings.load()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Fix the variable or the settings.PROFILING key.", id="profiling.E001")]
    problems = []
    if profiling_settings.REDIS_URL and not (_installed("channels_redis") and _installed("redis")):
        problems.append(
            Error(
                "REDIS_URL is set but channels-redis and redis are not installed, so the instances "
                "cannot share one dashboard.",
                hint="pip install 'riptide-profiler[redis]'",
                id="profiling.E002",
            )
        )
    if profiling_settings.FULL and not _exact_counts_supported():
        problems.append(
            Warning(
                "PROFILING_FULL is on, but exact call counts need Python 3.12+ "
                "(threading.setprofile_all_threads): on this interpreter it changes no figure, and "
                "bottlenecks' call_count stays the sampler's lower bound.",
                hint="Run on Python 3.12+ for exact counts, or turn PROFILING_FULL off.",
                id="profiling.W005",
            )
        )
    return problems


@register()
def check_feed(app_configs=None, **kwargs):
    problems = []
    hosts = list(getattr(settings, "ALLOWED_HOSTS", []))
    if not hosts:
        problems.append(
            Warning(
                "ALLOWED_HOSTS is empty: the live feed's Origin check then accepts browsers only on "
                "localhost (and only with DEBUG on), so a dashboard opened under another name gets "
                "no live charts.",
                hint="Set ALLOWED_HOSTS to the names the site is served under.",
                id="profiling.W001",
            )
        )
    elif "*" in hosts:
        problems.append(
            Warning(
                "ALLOWED_HOSTS contains '*': the live feed's Origin check then accepts any web page, "
                "which could open the feed with a logged-in staff user's cookie.",
                hint="List the site's own host names in ALLOWED_HOSTS.",
                id="profiling.W002",
            )
        )
    if _installed("uvicorn") and not (_installed("websockets") or _installed("wsproto")):
        problems.append(
            Warning(
                "uvicorn is installed without websocket support: under uvicorn the dashboard's live "
                "feed cannot connect.",
                hint="pip install 'uvicorn[standard]' (or websockets).",
                id="profiling.W003",
            )
        )
    return problems


@register()
def check_urls(app_configs=None, **kwargs):
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("profiling:memory")
    except NoReverseMatch:
        return [
            Warning(
                "The profiling URLs are not in the URLconf: no API, dashboard or metrics.",
                hint='Add path("", include("profiling.urls")) to the root URLconf.',
                id="profiling.W004",
            )
        ]
    except Exception:  # a broken URLconf is Django's own check's business
        return []
    return []
