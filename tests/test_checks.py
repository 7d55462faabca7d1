"""System checks report what a host project can get wrong, with the fix."""

from __future__ import annotations

from profiling import checks


def ids(messages) -> set[str]:
    return {message.id for message in messages}


def test_a_bad_setting_is_an_error(settings):
    settings.PROFILING = {"SAMPLE_HZ": -1}
    assert ids(checks.check_settings()) == {"profiling.E001"}


def test_redis_without_the_redis_extra_is_an_error(settings, monkeypatch):
    settings.PROFILING = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    monkeypatch.setattr(checks, "_installed", lambda module: module not in {"channels_redis"})
    (message,) = checks.check_settings()
    assert message.id == "profiling.E002" and "riptide-profiler[redis]" in message.hint


def test_if_full_is_on_without_exact_counts_then_it_warns(settings, monkeypatch):
    monkeypatch.setattr(checks, "_exact_counts_supported", lambda: False)
    settings.PROFILING = {"FULL": True}
    (message,) = checks.check_settings()
    assert message.id == "profiling.W005" and "3.12" in message.msg
    settings.PROFILING = {"FULL": False}
    assert checks.check_settings() == []
    monkeypatch.setattr(checks, "_exact_counts_supported", lambda: True)
    settings.PROFILING = {"FULL": True}
    assert checks.check_settings() == []


def test_exact_counts_are_unsupported_before_python_3_12():
    import sys

    assert checks._exact_counts_supported() is (sys.version_info >= (3, 12))


def test_empty_or_wildcard_allowed_hosts_warn(settings):
    settings.ALLOWED_HOSTS = []
    assert "profiling.W001" in ids(checks.check_feed())
    settings.ALLOWED_HOSTS = ["*"]
    assert "profiling.W002" in ids(checks.check_feed())
    settings.ALLOWED_HOSTS = ["example.org"]
    assert not ids(checks.check_feed()) & {"profiling.W001", "profiling.W002"}


def test_uvicorn_without_websockets_warns(monkeypatch):
    monkeypatch.setattr(checks, "_installed", lambda module: module == "uvicorn")
    (message,) = [m for m in checks.check_feed() if m.id == "profiling.W003"]
    assert "uvicorn[standard]" in message.hint


def test_urls_not_included_warn(settings):
    assert checks.check_urls() == []
    settings.ROOT_URLCONF = "tests.urls_without_profiling"
    (message,) = checks.check_urls()
    assert message.id == "profiling.W004" and 'include("profiling.urls")' in message.hint
