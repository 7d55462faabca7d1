"""Snapshots and leak detection through a real Daphne server on loopback."""

import json
import os

import pytest

pytestmark = pytest.mark.server


def test_server_snapshot_downloads_byte_for_byte_and_survives_a_restart(daphne_server, tmp_path):
    server = daphne_server(env={"PROFILING_SNAPSHOT_MAX_COUNT": "2"})
    snapshot_dir = tmp_path / "server0" / "snapshots"
    with server.client() as client:
        created = client.post("/api/profiling/snapshot")
        assert created.status_code == 200, created.text
        body = created.json()
        path = snapshot_dir / f"{body['snapshot_id']}.json"
        assert body["file_path"] == str(path)
        assert body["size_bytes"] == path.stat().st_size
        download = client.get(body["download_url"])
        assert download.status_code == 200
        assert download.content == path.read_bytes()
        assert download.headers["content-disposition"] == f'attachment; filename="{body["snapshot_id"]}.json"'
        assert json.loads(download.content)["snapshot_id"] == body["snapshot_id"]
        for raw in (
            "/api/profiling/snapshot/..%2F..%2Fdb.sqlite3/download",
            "/api/profiling/snapshot/%2e%2e%2fdb.sqlite3/download",
            "/api/profiling/snapshot/snapshot_1%00/download",
            "/api/profiling/snapshot/snapshot_1799999999/download",
        ):
            response = client.get(raw)
            assert response.status_code == 404, raw
            assert response.headers["content-type"].startswith("application/json")
        report = client.post("/api/profiling/leak-detection")
        assert report.status_code == 200
        assert report.json()["checks_analyzed"] >= 2  # the worker's baseline check and this one
        assert client.get("/api/profiling/leak-detection").json() == report.json()
        allocations = client.get("/api/profiling/allocations", params={"wait": "5"})
        assert allocations.status_code == 200
        assert allocations.json()["status"] == "ready"
        assert allocations.json()["top_allocators"]
    assert sorted(os.listdir(snapshot_dir)) == [f"{body['snapshot_id']}.json"]
    server.stop()
    server.start()
    with server.client() as client:
        listing = client.get("/api/profiling/snapshots").json()
        assert [s["snapshot_id"] for s in listing["snapshots"]] == [body["snapshot_id"]]
        assert client.get(body["download_url"]).content == path.read_bytes()
