import os

import psutil
import pytest

pytestmark = pytest.mark.django_db

URL = "/api/profiling/memory"
FIELDS = {
    "timestamp",
    "instance",
    "rss_mb",
    "heap_mb",
    "virtual_mb",
    "resident_mb",
    "shared_mb",
    "growth_rate_mb_per_sec",
    "growth_window_secs",
    "threshold_status",
    "warnings",
    "note",
}


def rss_anon_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def test_memory_fields_match_the_os_for_this_process(client_with_key, profiler):
    before = psutil.Process().memory_info()
    anon_before = rss_anon_mb()
    body = client_with_key.get(URL).json()
    after = psutil.Process().memory_info()
    assert set(body) == FIELDS
    mib = 1024 * 1024
    # Measured between two direct readings of the same process (a few MB of slack for the request).
    assert before.rss / mib - 5 <= body["rss_mb"] <= after.rss / mib + 5
    assert body["resident_mb"] == body["rss_mb"]
    assert abs(body["virtual_mb"] - after.vms / mib) < 64
    assert abs(body["shared_mb"] - after.shared / mib) < 16
    assert abs(body["heap_mb"] - anon_before) < 16
    assert body["threshold_status"] == "normal"
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == 24


def test_memory_growth_rate_appears_once_samples_exist(client_with_key, profiler):
    sampler = profiler.system_sampler
    deadline_ticks = sampler.tick_count + 3
    import time

    end = time.monotonic() + 5
    while sampler.tick_count < deadline_ticks and time.monotonic() < end:
        time.sleep(0.02)
    body = client_with_key.get(URL).json()
    assert isinstance(body["growth_rate_mb_per_sec"], float)
    assert body["growth_window_secs"] > 0


def test_memory_thresholds_come_from_settings(client_with_key):
    from tests.conftest import installed_runtime

    rss_mb = psutil.Process().memory_info().rss / 1024 / 1024
    with installed_runtime(memory_warning_mb=1, memory_alert_mb=rss_mb + 2048):
        body = client_with_key.get(URL).json()
    assert body["threshold_status"] == "warning"
    assert "warning threshold of 1 MB" in body["warnings"][0]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_memory_wrong_method_is_405_with_allow(client_with_key, profiler, method):
    response = getattr(client_with_key, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert "detail" in response.json()


def test_memory_when_profiling_disabled_is_503(client_with_key, disabled_profiler):
    response = client_with_key.get(URL)
    assert response.status_code == 503
    assert response.json() == {"detail": "Profiling is disabled (ENABLE_PROFILING=false)."}
    assert [t for t in __import__("threading").enumerate() if t.name.startswith("riptide-")] == []


def test_memory_trailing_slash_is_the_same_endpoint(client_with_key, profiler):
    assert client_with_key.get(URL + "/").status_code == 200
