"""The real thing: Daphne on loopback, as `make run` serves it."""

import time

import pytest

pytestmark = pytest.mark.server


def proc_status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(field)


def test_server_memory_agrees_with_proc_for_the_server_process(daphne_server):
    server = daphne_server()
    pid = server.process.pid
    with server.client() as client:
        before = proc_status_mb(pid, "VmRSS")
        body = client.get("/api/profiling/memory").json()
        after = proc_status_mb(pid, "VmRSS")
        assert min(before, after) - 2 <= body["rss_mb"] <= max(before, after) + 2
        assert abs(body["heap_mb"] - proc_status_mb(pid, "RssAnon")) < 8
        assert abs(body["virtual_mb"] - proc_status_mb(pid, "VmSize")) < 32
        cpu = client.get("/api/profiling/cpu").json()
        assert cpu["process"]["num_threads"] >= 2  # the server's thread and the sampler


def test_server_samples_in_the_background_and_reports_overhead(daphne_server):
    server = daphne_server(env={"PROFILING_MEMORY_INTERVAL_SECS": "0.1"})
    with server.client() as client:
        deadline = time.monotonic() + 10
        growth = None
        while growth is None and time.monotonic() < deadline:
            growth = client.get("/api/profiling/memory").json()["growth_rate_mb_per_sec"]
            time.sleep(0.1)
        assert growth is not None
        metrics = client.get("/metrics").text

        def value(name):
            return float(next(x for x in metrics.splitlines() if x.startswith(name + " ")).split()[1])

        ratio = value("riptide_profiling_overhead_ratio")
        assert 0 < ratio <= 1
        # The same scrape's profiler and process CPU seconds, read a few microseconds later.
        share = value("riptide_profiler_cpu_seconds_total") / value("process_cpu_seconds_total")
        assert ratio == pytest.approx(share, rel=0.1)


def test_server_with_profiling_disabled_runs_no_sampler_and_answers_503(daphne_server):
    server = daphne_server(env={"ENABLE_PROFILING": "false"})
    with server.client() as client:
        response = client.get("/api/profiling/memory")
        assert response.status_code == 503
        assert response.json() == {"detail": "Profiling is disabled (ENABLE_PROFILING=false)."}
        metrics = client.get("/metrics").text
        assert "riptide_profiling_enabled 0.0" in metrics


def test_server_never_logs_an_api_key(daphne_server):
    server = daphne_server(env={"DJANGO_LOG_LEVEL": "DEBUG"})
    bad_key = "ZZZZZZZZ.thisisnotavalidkeybutlookslikeone00"
    with server.client() as client:
        client.get("/api/profiling/memory")
        client.get("/metrics", headers={"Authorization": f"Bearer {server.api_key}"})
        client.get("/api/profiling/memory", headers={"X-API-Key": bad_key})
        client.get("/api/nope")
    server.stop()
    log = server.log()
    assert "GET /api/profiling/memory" in log  # the access log was written
    secret = server.api_key.split(".", 1)[1]
    assert secret not in log
    assert bad_key.split(".", 1)[1] not in log
