"""Shared fixtures: a profiler runtime per test, API keys, clients, no leftover threads."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from profiling.core import runtime as core_runtime
from profiling.core.config import ProfilingConfig
from profiling.core.runtime import ProfilingRuntime


@pytest.fixture(autouse=True)
def no_leftover_profiler_threads():
    """Fail any test that leaves a profiler thread running."""
    yield
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("riptide-") and t.is_alive()]
    assert not leftovers, f"test left profiler threads running: {leftovers}"


@pytest.fixture(autouse=True)
def clear_cache():
    """Throttle counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def make_runtime(**overrides) -> ProfilingRuntime:
    values = {"memory_interval_secs": 0.05, "extra": False} | overrides
    extra = values.pop("extra")
    if extra:
        from profiling.core.assembly import default_workers

        return ProfilingRuntime(ProfilingConfig(**values), workers=default_workers())
    return ProfilingRuntime(ProfilingConfig(**values))


@contextmanager
def installed_runtime(**overrides):
    """Start a runtime built with `overrides`, installed as the process's; stop it after."""
    runtime = make_runtime(**overrides)
    previous = core_runtime.install(runtime)
    runtime.ensure_running()
    try:
        yield runtime
    finally:
        runtime.stop()
        core_runtime.install(previous)


@pytest.fixture
def profiler():
    """A started runtime with a fast sampler, installed as the process's runtime."""
    with installed_runtime() as runtime:
        yield runtime


@pytest.fixture
def disabled_profiler():
    with installed_runtime(enabled=False) as runtime:
        yield runtime


@pytest.fixture
def make_key(db):
    """Create API keys: make_key(name="x", expired=False, revoked=False) -> (model, key)."""
    from datetime import timedelta

    from django.utils import timezone

    from profiling.models import ProfilingAPIKey

    def _make(name="test", *, expired=False, revoked=False):
        expiry = timezone.now() - timedelta(seconds=1) if expired else None
        obj, key = ProfilingAPIKey.objects.create_key(name=name, expiry_date=expiry)
        if revoked:
            obj.revoked = True
            obj.save()
        return obj, key

    return _make


@pytest.fixture
def api_key(make_key):
    return make_key("test")[1]


@pytest.fixture
def client_with_key(api_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-for-tests-only", is_staff=True)


@pytest.fixture
def daphne_server(tmp_path):
    """Start a real Daphne server: daphne_server(env={...}) -> DaphneServer (stopped after the test).

    `workdir` shares a database and snapshot directory with an earlier server, `api_key`
    reuses a key instead of creating one, `application` serves another ASGI entry point.
    """
    from tests.servers import DaphneServer

    started = []

    def _start(env=None, workdir=None, *, api_key=None, **options):
        server = DaphneServer(workdir or tmp_path / f"server{len(started)}", env=env, **options)
        server.api_key = api_key
        started.append(server)
        return server.start()

    yield _start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def frozen_rate_window(monkeypatch):
    """Pin django-ratelimit's clock so a fixed window cannot roll over in the middle of a test.

    In-process tests only: servers in subprocesses keep the real clock (their tests use
    hourly windows).
    """
    import types

    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright (never a downloaded browser), closed after the test."""
    from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, MISSING_MESSAGE

    if not CHROMIUM.exists():
        pytest.fail(MISSING_MESSAGE)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield instance
        finally:
            instance.close()
