"""Two real Daphne processes sharing Redis and PostgreSQL: one feed and one API for both.

Each process runs its own profiler and cross-instance link; a client of either sees both
instances' samples, lists both, reads the other's latest measurements, and has leak
detection, snapshots and bottlenecks run by the other process. A stopped instance
answers with a 504 after the timeout; one that ended is gone from the list at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time

import pytest
from websockets.asyncio.client import connect

from tests.multi import two_servers

pytestmark = pytest.mark.server

TIMEOUT_SECS = 1.5


@pytest.fixture
def cluster(daphne_server):
    env = {
        "PROFILING_RATE_DEFAULT": "1000/h",
        "PROFILING_RATE_LEAK_DETECTION": "100/h",
        "PROFILING_RATE_SNAPSHOT": "100/h",
        "PROFILING_INSTANCE_TIMEOUT_SECS": str(TIMEOUT_SECS),
    }
    with two_servers(daphne_server, env) as servers:
        yield servers


def name_of(server) -> str:
    return f"{socket.gethostname()}:{server.process.pid}"


def wait_for_instances(server, key, wanted: set[str], timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    with server.client(key) as client:
        while time.monotonic() < deadline:
            body = client.get("/api/profiling/instances").json()
            if {item["instance"] for item in body["instances"]} == wanted:
                return body
            time.sleep(0.1)
    raise AssertionError(f"instances never became {wanted}: {body}")


def test_one_websocket_client_receives_samples_from_both_instances(cluster):
    first, second = cluster
    wanted = {name_of(first), name_of(second)}
    wait_for_instances(first, first.api_key, wanted)

    async def watch() -> tuple[dict, set[str]]:
        url = f"ws://127.0.0.1:{first.port}/ws/profiling/live/"
        seen: set[str] = set()
        async with connect(
            url, additional_headers={"X-API-Key": first.api_key}, open_timeout=10
        ) as websocket:
            hello = json.loads(await websocket.recv())
            async with asyncio.timeout(15):
                while seen != wanted:
                    message = json.loads(await websocket.recv())
                    if message["type"] == "history":
                        seen |= {sample["instance"] for sample in message["samples"]}
                    elif message["type"] == "sample":
                        assert set(message) == {"type", "instance", "timestamp", "memory", "cpu"}
                        seen.add(message["instance"])
        return hello, seen

    hello, seen = asyncio.run(watch())
    assert hello["instance"] == name_of(first)
    assert seen == wanted


def test_instances_lists_both_and_memory_and_cpu_answer_for_the_other(cluster):
    first, second = cluster
    key = first.create_key("shared")
    body = wait_for_instances(second, key, {name_of(first), name_of(second)})
    assert body["shared"] is True and body["count"] == 2
    this = [item for item in body["instances"] if item["this"]]
    assert [item["instance"] for item in this] == [name_of(second)]
    other = next(item for item in body["instances"] if not item["this"])
    assert other["pid"] == first.process.pid and other["interval_secs"] == 0.2
    assert other["age_secs"] < 5

    with second.client(key) as client:
        memory = client.get("/api/profiling/memory", params={"instance": name_of(first)})
        cpu = client.get("/api/profiling/cpu", params={"instance": name_of(first)})
        own = client.get("/api/profiling/memory")
    assert memory.status_code == 200 and cpu.status_code == 200
    assert memory.json()["instance"] == name_of(first) and cpu.json()["instance"] == name_of(first)
    assert own.json()["instance"] == name_of(second)
    # The first server's own resident size, from its own /proc entry, is what the second reports.
    with open(f"/proc/{first.process.pid}/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    assert memory.json()["rss_mb"] == pytest.approx(rss_kib / 1024, rel=0.25)


def test_leak_detection_for_b_sent_to_a_returns_bs_report(cluster):
    first, second = cluster
    wait_for_instances(first, first.api_key, {name_of(first), name_of(second)})
    with first.client(first.api_key) as client:
        response = client.post("/api/profiling/leak-detection", params={"instance": name_of(second)})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["instance"] == name_of(second)
        # The report is B's own: B now answers it as its latest, and A has none of its own.
        latest_b = client.get("/api/profiling/leak-detection", params={"instance": name_of(second)}).json()
        assert latest_b["timestamp"] == report["timestamp"]
        assert client.get("/api/profiling/leak-detection").status_code == 404


def test_snapshot_and_bottlenecks_of_the_other_instance(cluster):
    first, second = cluster
    wait_for_instances(first, first.api_key, {name_of(first), name_of(second)})
    with first.client(first.api_key) as client:
        snapshot = client.post("/api/profiling/snapshot", params={"instance": name_of(second)}).json()
        assert snapshot["instance"] == name_of(second)
        assert str(second.workdir) in snapshot["file_path"]
        assert snapshot["download_url"].endswith(f"?instance={name_of(second)}")
        download = client.get(snapshot["download_url"])
        assert download.status_code == 200
        assert json.loads(download.content)["instance"] == name_of(second)
        assert len(download.content) == snapshot["size_bytes"]
        listed = client.get("/api/profiling/snapshots", params={"instance": name_of(second)}).json()
        assert [s["snapshot_id"] for s in listed["snapshots"]] == [snapshot["snapshot_id"]]
        assert client.get("/api/profiling/snapshots").json()["count"] == 0
        hotspots = client.get("/api/profiling/bottlenecks", params={"instance": name_of(second), "window": 5})
        assert hotspots.status_code == 200 and hotspots.json()["instance"] == name_of(second)
        bad = client.get("/api/profiling/bottlenecks", params={"instance": name_of(second), "window": 0})
        assert bad.status_code == 400


def test_a_stopped_instance_answers_504_and_an_unknown_one_404(cluster):
    first, second = cluster
    wait_for_instances(first, first.api_key, {name_of(first), name_of(second)})
    with first.client(first.api_key) as client:
        os.kill(second.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            response = client.post("/api/profiling/leak-detection", params={"instance": name_of(second)})
            elapsed = time.monotonic() - started
        finally:
            os.kill(second.process.pid, signal.SIGCONT)
        assert response.status_code == 504
        assert response.json() == {
            "detail": f"Instance {name_of(second)} did not answer within {TIMEOUT_SECS:g} s."
        }
        assert TIMEOUT_SECS <= elapsed < TIMEOUT_SECS + 3
        unknown = client.get("/api/profiling/memory", params={"instance": "elsewhere:1"})
        assert unknown.status_code == 404 and "elsewhere:1" in unknown.json()["detail"]
        malformed = client.get("/api/profiling/memory", params={"instance": "no pid"})
        assert malformed.status_code == 400


def test_an_instance_that_ends_is_gone_from_the_list(cluster):
    first, second = cluster
    wait_for_instances(first, first.api_key, {name_of(first), name_of(second)})
    gone = name_of(second)
    second.stop()
    wait_for_instances(first, first.api_key, {name_of(first)}, timeout=5)
    with first.client(first.api_key) as client:
        assert client.get("/api/profiling/cpu", params={"instance": gone}).status_code == 404


def test_without_redis_a_server_lists_only_itself(daphne_server):
    server = daphne_server()
    with server.client(server.api_key) as client:
        body = client.get("/api/profiling/instances").json()
        assert body["shared"] is False and body["count"] == 1
        assert body["instances"][0]["instance"] == name_of(server) and body["instances"][0]["this"] is True
        other = client.get("/api/profiling/memory", params={"instance": "elsewhere:1"})
        assert other.status_code == 404 and "REDIS_URL is unset" in other.json()["detail"]
