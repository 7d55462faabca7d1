"""Real server processes killed and restarted on the same database and snapshot directory."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from profiling.core.memory.snapshots import TEMP_PATTERN, SnapshotStore
from profiling.keycache import VERIFIED_KEY_TTL_SECS

pytestmark = pytest.mark.server

ENV = {"PROFILING_RATE_SNAPSHOT": "50/h"}


def kill(server) -> None:
    """SIGKILL the server by its pid: no shutdown code runs, as in a crash or an OOM kill."""
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    server.stop()


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_keys_snapshots_and_their_list_survive_a_killed_server(daphne_server, tmp_path):
    workdir = tmp_path / "service"
    first = daphne_server(env=ENV, workdir=workdir)
    revoked_key = first.create_key("leaver")
    with first.client() as client:
        created = [client.post("/api/profiling/snapshot") for _ in range(2)]
        assert [r.status_code for r in created] == [200, 200], [r.text for r in created]
        listing = client.get("/api/profiling/snapshots").json()
        assert [s["snapshot_id"] for s in listing["snapshots"]] == [
            r.json()["snapshot_id"] for r in reversed(created)
        ]
        downloads = {s["snapshot_id"]: client.get(s["download_url"]).content for s in listing["snapshots"]}
        assert all(downloads.values())
    with first.client(revoked_key) as client:
        assert client.get("/api/profiling/cpu").status_code == 200
    first.manage("revoke_api_key", "--name", "leaver")
    # Another process revoked it; without a shared cache the server trusts what it verified
    # for at most VERIFIED_KEY_TTL_SECS.
    deadline = time.monotonic() + VERIFIED_KEY_TTL_SECS + 1
    with first.client(revoked_key) as client:
        while (status := client.get("/api/profiling/cpu").status_code) == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 401
    first_pid = first.process.pid
    kill(first)

    second = daphne_server(env=ENV, workdir=workdir, api_key=first.api_key)
    assert second.process.pid != first_pid
    with second.client() as client:
        assert client.get("/api/profiling/memory").status_code == 200  # the same key, from the database
        relisted = client.get("/api/profiling/snapshots").json()
        assert relisted.pop("instance") == f"{socket.gethostname()}:{second.process.pid}"  # who answers
        assert relisted == {key: value for key, value in listing.items() if key != "instance"}
        for snapshot_id, content in downloads.items():
            download = client.get(f"/api/profiling/snapshot/{snapshot_id}/download")
            assert download.status_code == 200
            assert download.content == content
    with second.client(revoked_key) as client:
        refused = client.get("/api/profiling/cpu")
        assert refused.status_code == 401
        assert "www-authenticate" in refused.headers


def test_snapshot_write_killed_half_way_is_never_listed_or_served_and_is_removed_at_start(
    daphne_server, tmp_path
):
    workdir = tmp_path / "service"
    snapshot_dir = workdir / "snapshots"
    first = daphne_server(env=ENV, workdir=workdir)
    with first.client() as client:
        kept = client.post("/api/profiling/snapshot").json()
        kept_bytes = client.get(kept["download_url"]).content
    first.stop()

    stalled = daphne_server(
        env=ENV, workdir=workdir, api_key=first.api_key, application="tests.stalled_snapshot_asgi:application"
    )
    marker = workdir / "writer-stalled"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_post_snapshot, stalled)
        assert wait_for(marker.exists), f"the writer never stalled:\n{stalled.log()}"
        temps = [name for name in os.listdir(snapshot_dir) if TEMP_PATTERN.fullmatch(name)]
        assert len(temps) == 1
        temp = snapshot_dir / temps[0]
        assert 0 < temp.stat().st_size
        assert int(TEMP_PATTERN.fullmatch(temps[0]).group(2)) == stalled.process.pid
        half_written_id = TEMP_PATTERN.fullmatch(temps[0]).group(1)
        # A listing made while the write is in flight sees only the finished snapshot.
        assert [s.snapshot_id for s in SnapshotStore(snapshot_dir, 20).list()] == [kept["snapshot_id"]]
        kill(stalled)
        with pytest.raises(httpx.HTTPError):
            pending.result(30)  # the client never got an answer, let alone a 200
    assert temp.exists()  # what a killed writer leaves behind

    restarted = daphne_server(env=ENV, workdir=workdir, api_key=first.api_key)
    assert not temp.exists()  # removed at start-up: its writer is dead
    assert sorted(os.listdir(snapshot_dir)) == [f"{kept['snapshot_id']}.json"]
    with restarted.client() as client:
        listing = client.get("/api/profiling/snapshots").json()
        assert [s["snapshot_id"] for s in listing["snapshots"]] == [kept["snapshot_id"]]
        assert client.get(kept["download_url"]).content == kept_bytes
        for path in (
            f"/api/profiling/snapshot/{half_written_id}/download",
            f"/api/profiling/snapshot/{temps[0]}/download",
            f"/api/profiling/snapshot/{kept['snapshot_id']}/compare/{half_written_id}",
        ):
            assert client.get(path).status_code == 404, path
        fresh = client.post("/api/profiling/snapshot")
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["snapshot_id"] != kept["snapshot_id"]
    assert f"removed a leftover snapshot temp file {temps[0]}" in restarted.log()


def _post_snapshot(server) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/profiling/snapshot")
