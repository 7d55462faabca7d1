import pytest

pytestmark = pytest.mark.django_db

URL = "/api/profiling/cpu"


def test_cpu_fields_and_split_adds_up(client_with_key, profiler):
    body = client_with_key.get(URL).json()
    assert set(body) == {
        "timestamp",
        "cpu_usage_percent",
        "user_time_percent",
        "system_time_percent",
        "idle_time_percent",
        "load_average",
        "available",
        "interval_secs",
        "process",
        "note",
        "instance",
    }
    assert body["instance"] == profiler.instance
    split = body["user_time_percent"] + body["system_time_percent"] + body["idle_time_percent"]
    assert 99.0 <= split <= 100.5
    assert body["cpu_usage_percent"] == pytest.approx(100 - body["idle_time_percent"], abs=0.01)
    assert set(body["load_average"]) == {"one_min", "five_min", "fifteen_min"}
    assert body["available"] is True
    assert "PROFILING_FULL" in body["note"]


def test_cpu_process_object_matches_this_process(client_with_key, profiler):
    import os

    import psutil

    times_before = psutil.Process().cpu_times()
    body = client_with_key.get(URL).json()
    process = body["process"]
    assert set(process) == {"cpu_percent", "user_seconds", "system_seconds", "num_threads"}
    assert process["user_seconds"] <= psutil.Process().cpu_times().user + 0.01
    assert process["user_seconds"] >= times_before.user - 1.0  # sampled within the last interval
    assert process["num_threads"] >= 2  # this thread and the sampler
    assert 0 <= process["cpu_percent"] <= 100 * os.cpu_count() + 1


def test_cpu_when_profiling_disabled_is_503(client_with_key, disabled_profiler):
    assert client_with_key.get(URL).status_code == 503
