import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

REQUIRED = [
    "riptide_memory_rss_bytes",
    "riptide_memory_heap_bytes",
    "riptide_memory_virtual_bytes",
    "riptide_cpu_usage_percent",
    "riptide_memory_growth_rate_bytes_per_second",
    "riptide_profiling_overhead_ratio",
    "riptide_leak_detections_total",
    "riptide_snapshots_total",
]


def wait_for_samples(runtime, count=3):
    import time

    end = time.monotonic() + 5
    while runtime.system_sampler.tick_count < count and time.monotonic() < end:
        time.sleep(0.02)


def _value(text: str, name: str) -> float:
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def test_metrics_exports_the_named_series(client_with_key, profiler):
    wait_for_samples(profiler)
    latest_before = profiler.system_sampler.latest()
    response = client_with_key.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in REQUIRED:
        assert f"\n{name} " in text, name
    # The scrape read the latest sample then, or one the sampler stored while it ran.
    read = profiler.system_sampler.history(since_monotonic=latest_before.monotonic)
    assert _value(text, "riptide_memory_rss_bytes") in {sample.memory.rss for sample in read}
    assert _value(text, "riptide_memory_virtual_bytes") in {sample.memory.vms for sample in read}


def test_metrics_export_the_profilers_cpu_seconds_and_the_ratio_exactly(
    client_with_key, profiler, monkeypatch
):
    from profiling.core.samples import ProcessCpuTimes

    class Reader:
        def process_cpu(self):
            return ProcessCpuTimes(user=8.0, system=2.0, num_threads=3)

    monkeypatch.setattr(profiler, "profiler_cpu_seconds", lambda: 1.25)
    monkeypatch.setattr(profiler, "reader", Reader())
    text = client_with_key.get("/metrics").content.decode()
    assert "# TYPE riptide_profiler_cpu_seconds_total counter" in text
    assert _value(text, "riptide_profiler_cpu_seconds_total") == 1.25
    assert _value(text, "riptide_profiling_overhead_ratio") == 0.125


def test_metrics_export_each_profiler_threads_cpu_and_the_charged_work(
    client_with_key, profiler, monkeypatch
):
    from prometheus_client.parser import text_string_to_metric_families

    for number, worker in enumerate(profiler.workers.values(), start=1):
        monkeypatch.setattr(worker, "_cpu_seconds", 0.5 * number)
    monkeypatch.setattr(profiler, "_charged_cpu", 0.25)
    text = client_with_key.get("/metrics").content.decode()
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "riptide_profiler_worker_cpu_seconds"
    ]
    by_worker = {s.labels["worker"]: s.value for s in family.samples if s.name.endswith("_total")}
    expected = {name: 0.5 * number for number, name in enumerate(profiler.workers, start=1)}
    assert by_worker == {**expected, "charged": 0.25}
    assert sum(by_worker.values()) == pytest.approx(profiler.profiler_cpu_seconds())


def test_metrics_overhead_ratio_is_the_profilers_share_of_the_process_cpu(client_with_key, profiler):
    wait_for_samples(profiler)
    profiler_before, process_before = profiler.profiler_cpu_seconds(), profiler.reader.process_cpu()
    text = client_with_key.get("/metrics").content.decode()
    profiler_after, process_after = profiler.profiler_cpu_seconds(), profiler.reader.process_cpu()
    ratio = _value(text, "riptide_profiling_overhead_ratio")
    assert 0 < ratio <= 1
    # Read between the two readings: the profiler's and the process's CPU only grow.
    lowest = profiler_before / (process_after.user + process_after.system)
    highest = profiler_after / (process_before.user + process_before.system)
    assert lowest <= ratio <= highest
    assert profiler_before <= _value(text, "riptide_profiler_cpu_seconds_total") <= profiler_after


def test_metrics_needs_a_key(anon_client, profiler):
    assert anon_client.get("/metrics").status_code == 401


def test_metrics_accepts_a_bearer_token(api_key, profiler):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert client.get("/metrics", HTTP_ACCEPT="text/plain").status_code == 200


def test_metrics_openmetrics_when_asked(client_with_key, profiler):
    response = client_with_key.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


def test_metrics_public_when_configured(anon_client, profiler, settings):
    settings.PROFILING = {"METRICS_PUBLIC": True}
    assert anon_client.get("/metrics").status_code == 200


def test_metrics_have_no_unbounded_labels(client_with_key, profiler):
    text = client_with_key.get("/metrics").content.decode()
    labelled = {
        line.split("{")[0] for line in text.splitlines() if "{" in line and line.startswith("riptide_")
    }
    assert labelled <= {"riptide_memory_threshold_status", "riptide_profiler_worker_cpu_seconds_total"}
    workers = _series(text, "riptide_profiler_worker_cpu_seconds_total")
    assert set(workers) == {f'{{worker="{name}"}}' for name in [*profiler.workers, "charged"]}


@override_settings(PROFILING={"RATE_DEFAULT": "2/m", "RATE_LEAK_DETECTION": "1/m", "RATE_SNAPSHOT": "1/m"})
def test_metrics_are_throttled_like_other_endpoints(client_with_key, profiler, frozen_rate_window):
    codes = [client_with_key.get("/metrics").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def _series(text: str, name: str) -> dict[str, float]:
    """{label text: value} of one metric's samples."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            found[labels] = float(value)
    return found


def test_metrics_of_every_instance_carry_an_instance_label(client_with_key, profiler):
    wait_for_samples(profiler)
    history = profiler.system_sampler.history
    before = len(history())
    response = client_with_key.get("/profiling/metrics?instances=all")
    assert response.status_code == 200
    text = response.content.decode()
    # The sample the scrape read: the latest then, or one taken while it ran.
    seen = [profiler.sample_message(s)["memory"]["rss_mb"] * 1024 * 1024 for s in history()[before - 1 :]]
    (labels, rss), *others = _series(text, "riptide_memory_rss_bytes").items()
    assert labels == f'{{instance="{profiler.instance}"}}' and not others
    assert rss in seen
    status = _series(text, "riptide_memory_threshold_status")
    assert status[f'{{instance="{profiler.instance}",status="normal"}}'] == 1.0


def test_metrics_refuse_an_unknown_instances_value(client_with_key, profiler):
    response = client_with_key.get("/profiling/metrics?instances=some")
    assert response.status_code == 400 and response.json()["detail"].startswith("instances must be")


def test_metrics_count_the_ticks_the_stack_samplers_budget_skipped(client_with_key, profiler, monkeypatch):
    from profiling.core.stacks.sampler import StackSampler

    sampler = StackSampler(11.0, history=False)  # not started: only its counters are read
    sampler.skipped_ticks = 7
    monkeypatch.setitem(profiler.workers, "stacks", sampler)
    text = client_with_key.get("/metrics").content.decode()
    assert "# TYPE riptide_sampler_skipped_ticks_total counter" in text
    assert _value(text, "riptide_sampler_skipped_ticks_total") == 7
