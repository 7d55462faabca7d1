"""GET /api/profiling/samples: the live feed's samples by polling (the dashboard under WSGI)."""

import time

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/profiling/samples"


def wait_for_samples(runtime, count):
    end = time.monotonic() + 5
    while runtime.system_sampler.tick_count < count and time.monotonic() < end:
        time.sleep(0.02)


def test_samples_are_the_feeds_messages_oldest_first(client_with_key, profiler):
    wait_for_samples(profiler, 3)
    body = client_with_key.get(URL).json()
    assert body["instance"] == profiler.instance and body["shared"] is False
    assert body["interval_secs"] == profiler.config.memory_interval_secs
    assert body["thresholds"] == profiler.thresholds()
    samples = body["samples"]
    assert len(samples) >= 3
    assert [s["timestamp"] for s in samples] == sorted(s["timestamp"] for s in samples)
    first = samples[0]
    assert first["type"] == "sample" and first["instance"] == profiler.instance
    assert set(first) == {"type", "instance", "timestamp", "memory", "cpu"}


def test_after_gives_only_newer_samples(client_with_key, profiler):
    wait_for_samples(profiler, 4)
    history = profiler.system_sampler.history()
    cut = history[-2]
    body = client_with_key.get(URL, {"after": repr(cut.timestamp)}).json()
    returned = [m["timestamp"] for m in body["samples"]]
    # The newest sample then comes first; samples taken while it answered may follow.
    assert returned[0] == profiler.sample_message(history[-1])["timestamp"]
    assert profiler.sample_message(cut)["timestamp"] not in returned
    assert returned == sorted(returned)


@pytest.mark.parametrize("after", ["yesterday", "nan", "inf"])
def test_a_bad_after_is_a_400(client_with_key, profiler, after):
    response = client_with_key.get(URL, {"after": after})
    assert response.status_code == 400 and "unix seconds" in response.json()["detail"]


def test_samples_need_a_key(anon_client, profiler):
    assert anon_client.get(URL).status_code == 401
