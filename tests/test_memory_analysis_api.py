"""The memory endpoints in the test process: a planted leak named, a flat table not, snapshots, errors."""

import errno
import json
import os
import threading
import time

import pytest

from profiling.core import runtime as core_runtime
from profiling.core.config import MIB
from profiling.core.memory.service import memory_analysis
from tests import leaky_app
from tests.conftest import make_runtime

API = "/api/profiling"


@pytest.fixture
def start_profiler(tmp_path):
    """Start a runtime with overrides, installed as the process's; stopped with its windows after."""
    started = []

    def _start(**overrides):
        values = {"snapshot_dir": tmp_path / "snapshots", "snapshot_max_count": 3} | overrides
        runtime = make_runtime(**values)
        previous = core_runtime.install(runtime)
        runtime.ensure_running()
        started.append((runtime, previous))
        return runtime

    yield _start
    for runtime, previous in reversed(started):
        memory_analysis(runtime).stop()
        runtime.stop()
        core_runtime.install(previous)
    leaky_app.reset()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_leak_detection_names_a_planted_leak_within_three_checks(client_with_key, start_profiler):
    leaky_app.fill_table()
    leaker = leaky_app.Leaker(chunk=32 * 1024, period=0.01).start()
    try:
        runtime = start_profiler(extra=True, leak_check_interval_secs=0.5)
        events = []
        runtime.add_event_listener(events.append)
        detector = memory_analysis(runtime).leaks
        assert wait_for(lambda: len(detector.history()) >= 2)  # the baseline and one tick
        runtime.workers["leak_checks"].stop()  # so the POST's check is exactly the third
        assert len(detector.history()) == 2
        response = client_with_key.post(f"{API}/leak-detection")
        planted_mb_per_hour = leaker.rate_bytes_per_sec() * 3600 / MIB
    finally:
        leaker.stop()
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["checks_analyzed"] == 3
    assert report["highest_risk_component"] == "tests.leaky_app._store"
    leak = report["potential_leaks"][0]
    assert leak["component"] == "tests.leaky_app._store"
    assert planted_mb_per_hour / 2 <= leak["growth_rate_mb_per_hour"] <= planted_mb_per_hour * 2
    assert leak["severity"] == "critical"
    flat = [p for p in report["potential_leaks"] if p["component"] == "tests.leaky_app._table"]
    assert all(p["severity"] not in ("high", "critical") for p in flat)
    assert report["analysis_duration_ms"] > 0
    assert report["trigger"] == "request"
    leak_events = [e for e in events if e["type"] == "leak_report"]
    # the tick and the POST each left a report (the baseline at start did not); the POST's is the newest
    assert [e["trigger"] for e in leak_events] == ["background", "request"]
    assert leak_events[-1]["timestamp"] == report["timestamp"]
    assert runtime.counters["leak_detections"] == 2
    latest = client_with_key.get(f"{API}/leak-detection")
    assert latest.status_code == 200 and latest.json() == report


def test_leak_report_get_shows_a_background_check_newer_than_the_last_post(client_with_key, start_profiler):
    runtime = start_profiler()
    detector = memory_analysis(runtime).leaks
    posted = client_with_key.post(f"{API}/leak-detection").json()
    assert posted["trigger"] == "request"
    detector.check()  # what the leak-check worker does at each tick
    newest = client_with_key.get(f"{API}/leak-detection").json()
    assert newest["trigger"] == "background"
    assert newest["checks_analyzed"] == posted["checks_analyzed"] + 1
    assert newest["timestamp"] >= posted["timestamp"]


def test_leak_detection_flat_table_and_steady_churn_are_not_leaks(client_with_key, start_profiler):
    start_profiler()
    leaky_app.fill_table(entries=10)
    assert client_with_key.post(f"{API}/leak-detection").status_code == 200
    leaky_app.fill_table(entries=500, size=64 * 1024)  # filled once, between the first two checks
    stop = threading.Event()
    churn = threading.Thread(target=leaky_app.churn_blocks, args=(stop,), name="test-churn")
    churn.start()
    try:
        reports = []
        for _ in range(3):
            reports.append(client_with_key.post(f"{API}/leak-detection").json())
            time.sleep(0.05)
    finally:
        stop.set()
        churn.join(5)
    assert reports[-1]["checks_analyzed"] == 4
    named = {leak["component"] for leak in reports[-1]["potential_leaks"]}
    assert not named & {"tests.leaky_app._table", "tests.leaky_app._ring"}


def test_leak_detection_with_too_little_history_says_so(client_with_key, start_profiler):
    start_profiler()
    assert client_with_key.get(f"{API}/leak-detection").status_code == 404
    report = client_with_key.post(f"{API}/leak-detection").json()
    assert report["checks_analyzed"] == 1
    assert report["growth_rate_mb_per_hour"] is None
    assert report["note"].startswith("Too little history")


def test_allocations_first_call_collects_then_reports_the_window(client_with_key, start_profiler):
    runtime = start_profiler()
    memory_analysis(runtime).allocations.window_secs = 0.4
    first = client_with_key.get(f"{API}/allocations")
    assert first.status_code == 200
    assert first.json()["status"] == "collecting"
    assert first.json()["size_distribution"] is None
    body = client_with_key.get(f"{API}/allocations?wait=5").json()
    assert body["status"] == "ready"
    assert set(body["size_distribution"]) == {
        "small_0_1kb",
        "medium_1_100kb",
        "large_100kb_1mb",
        "huge_1mb_plus",
    }
    assert body["fragmentation_percent"] is not None and 0 <= body["efficiency_score"] <= 1
    sizes = [size for _, size in body["top_allocators"]]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("wait", ["abc", "-1", "nan", "6", "inf"])
def test_allocations_bad_wait_is_a_400(client_with_key, start_profiler, wait):
    start_profiler()
    response = client_with_key.get(f"{API}/allocations", {"wait": wait})
    assert response.status_code == 400
    assert "wait" in response.json()["detail"]


def test_snapshot_create_list_download_compare_and_retention(client_with_key, start_profiler, tmp_path):
    runtime = start_profiler()
    events = []
    runtime.add_event_listener(events.append)
    created = [client_with_key.post(f"{API}/snapshot").json() for _ in range(4)]
    first = created[0]
    assert first["status"] == "completed"
    assert first["snapshot_id"].startswith("snapshot_")
    assert first["download_url"] == f"{API}/snapshot/{first['snapshot_id']}/download"
    ids = [c["snapshot_id"] for c in created]
    assert len(set(ids)) == 4
    directory = tmp_path / "snapshots"
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{i}.json" for i in ids[1:])
    last = created[-1]
    assert last["size_bytes"] == (directory / f"{last['snapshot_id']}.json").stat().st_size
    content = json.loads((directory / f"{last['snapshot_id']}.json").read_bytes())
    for key in (
        "memory",
        "cpu",
        "allocations",
        "types",
        "components",
        "threads",
        "recent_samples",
        "allocator",
    ):
        assert key in content
    assert any(t["name"] == "riptide-system-sampler" for t in content["threads"])
    listing = client_with_key.get(f"{API}/snapshots").json()
    assert [s["snapshot_id"] for s in listing["snapshots"]] == ids[:0:-1]
    download = client_with_key.get(last["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (directory / f"{last['snapshot_id']}.json").read_bytes()
    assert download["Content-Disposition"] == f'attachment; filename="{last["snapshot_id"]}.json"'
    assert client_with_key.get(first["download_url"]).status_code == 404  # pruned
    compare = client_with_key.get(f"{API}/snapshot/{ids[1]}/compare/{ids[3]}")
    assert compare.status_code == 200
    assert compare.json()["from_snapshot"] == ids[1]
    assert [e["snapshot_id"] for e in events if e["type"] == "snapshot"] == ids
    assert runtime.counters["snapshots"] == 4


@pytest.mark.parametrize(
    "path",
    [
        "snapshot/..%2F..%2Fsettings/download",
        "snapshot/%2e%2e/download",
        "snapshot/snapshot_1%00/download",
        "snapshot/snapshot_1799999999/download",
        "snapshot/..%252Fx/download",
        "snapshot/snapshot_1/compare/..%2Fx",
    ],
)
def test_snapshot_traversal_and_unknown_ids_are_json_404(client_with_key, start_profiler, path):
    start_profiler()
    response = client_with_key.get(f"{API}/{path}")
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "allocations"),
        ("get", "leak-detection"),
        ("post", "leak-detection"),
        ("post", "snapshot"),
        ("get", "snapshots"),
        ("get", "snapshot/snapshot_1/download"),
        ("get", "snapshot/snapshot_1/compare/snapshot_2"),
    ],
)
def test_memory_endpoints_need_a_key(anon_client, start_profiler, method, path):
    start_profiler()
    response = getattr(anon_client, method)(f"{API}/{path}")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_leak_detection_is_throttled_on_its_own_scope(
    client_with_key, start_profiler, settings, frozen_rate_window
):
    start_profiler()
    settings.PROFILING = {"RATE_LEAK_DETECTION": "2/m"}
    codes = [client_with_key.post(f"{API}/leak-detection").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client_with_key.get(f"{API}/leak-detection").status_code == 200  # GET has its own scope


def test_snapshot_dir_leftover_temp_files_are_removed_at_start(client_with_key, start_profiler, tmp_path):
    directory = tmp_path / "snapshots"
    directory.mkdir()
    leftover = directory / ".snapshot_1800000000.999999999.0badcafe.tmp"
    leftover.write_text("half a snapshot")
    start_profiler(extra=True)  # the leak-check worker builds the memory analysis at start
    assert not leftover.exists()
    assert client_with_key.get(f"{API}/snapshots").json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "allocations"), ("post", "leak-detection"), ("post", "snapshot"), ("get", "snapshots")],
)
def test_memory_endpoints_answer_503_when_profiling_is_disabled(
    client_with_key, disabled_profiler, method, path
):
    response = getattr(client_with_key, method)(f"{API}/{path}")
    assert response.status_code == 503
    assert "disabled" in response.json()["detail"]


def test_snapshot_disk_full_is_a_507_and_leaves_no_file(
    client_with_key, start_profiler, tmp_path, monkeypatch
):
    start_profiler()

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    response = client_with_key.post(f"{API}/snapshot")
    assert response.status_code == 507
    assert "disk space" in response.json()["detail"]
    assert os.listdir(tmp_path / "snapshots") == []


def test_staff_session_post_needs_the_csrf_token(staff_user, start_profiler):
    from rest_framework.test import APIClient

    start_profiler()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    refused = client.post(f"{API}/leak-detection")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/admin/")  # a page with a form (the logout button) sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post(f"{API}/leak-detection", HTTP_X_CSRFTOKEN=token).status_code == 200
