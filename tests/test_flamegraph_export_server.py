"""flamegraph?format=pprof and ?format=speedscope on a real Daphne server, read back by real readers.

The server runs tests/endpoints_asgi.py (per-route attribution on); the test plants CPU work
in one route, downloads both exports with the API key and reads them with protobuf's own
classes for pprof's profile.proto, with the npm package pprof-format and against
speedscope's schema (see tests/core/test_stacks_export.py).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.core.stackfakes import ROOT
from tests.core.test_stacks_export import (
    check_exports_agree,
    check_pprof_structure,
    check_speedscope,
    js_readers,
    pprof_stacks,
    published_profile_pb2,
    read_pprof,
)

pytestmark = pytest.mark.server

MODULE = "tests.endpoints_asgi"  # served by Daphne; importing it here would start a profiler
HEAVY = "GET /ep-test/heavy"
SAMPLE_HZ = 97


def definition_line(name: str) -> int:
    lines = (ROOT / "tests" / "endpoints_asgi.py").read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.startswith(f"def {name}("))


def test_flamegraph_exports_download_as_files_that_pprof_and_speedscope_readers_read(daphne_server, tmp_path):
    js_readers()  # before the server: a missing reader fails fast, with how to install it
    published_profile_pb2()
    server = daphne_server(application=f"{MODULE}:application", env={"PROFILING_SAMPLE_HZ": str(SAMPLE_HZ)})
    with server.client() as client:
        assert client.get("/ep-test/heavy").status_code == 200  # first-request work
        started = time.monotonic()
        for _ in range(40):  # 30 ms of CPU each in heavy_work
            assert client.get("/ep-test/heavy").status_code == 200
        window = int(time.monotonic() - started) + 10
        heavy = {"window": window, "endpoint": HEAVY}
        pprof = client.get("/api/profiling/flamegraph", params={**heavy, "format": "pprof"})
        speedscope = client.get("/api/profiling/flamegraph", params={**heavy, "format": "speedscope"})
        whole = client.get("/api/profiling/flamegraph", params={"window": window, "format": "pprof"})
        unknown = client.get("/api/profiling/flamegraph", params={"format": "svg"})
        uppercase = client.get("/api/profiling/flamegraph", params={"format": "PPROF"})
    with server.client(key="not-a-key") as stranger:
        refused = stranger.get("/api/profiling/flamegraph", params={"format": "pprof"})

    assert pprof.status_code == 200, pprof.text
    assert pprof.headers["content-type"] == "application/octet-stream"
    assert pprof.headers["content-disposition"] == 'attachment; filename="profile.pb.gz"'
    assert "content-encoding" not in pprof.headers  # the file itself is gzip, as pprof keeps it
    profile = read_pprof(pprof.content, tmp_path)
    check_pprof_structure(profile)
    assert [t["type"] for t in profile["sample_type"]] == ["samples", "cpu", "wall"]
    assert profile["period"] == str(round(1e9 / SAMPLE_HZ))
    assert 0 < int(profile["duration_nanos"]) <= window * 1_000_000_000
    assert abs(int(profile["time_nanos"]) / 1e9 + int(profile["duration_nanos"]) / 1e9 - time.time()) < 60
    stacks = pprof_stacks(profile)
    assert stacks and all(labels == (("endpoint", HEAVY),) for _, _, labels in stacks), stacks
    # The route's own work is where its samples are, and its CPU time is about what it burnt.
    on_work = [values for names, values, _ in stacks if names[-1] == f"{MODULE}.heavy_work"]
    samples = sum(values[0] for _, values, _ in stacks)
    cpu_secs = sum(values[1] for _, values, _ in stacks) / 1e9
    assert sum(values[0] for values in on_work) >= 0.7 * samples, stacks
    assert 0.6 <= cpu_secs <= 2.5, cpu_secs  # 40 x 30 ms planted
    (work,) = [f for f in profile["function"] if f["name"] == f"{MODULE}.heavy_work"]
    assert (work["filename"], work["start_line"]) == (
        "tests/endpoints_asgi.py",
        str(definition_line("heavy_work")),
    )

    assert speedscope.status_code == 200, speedscope.text
    assert speedscope.headers["content-type"] == "application/json"
    assert speedscope.headers["content-disposition"] == 'attachment; filename="profile.speedscope.json"'
    document = speedscope.json()
    check_speedscope(document)
    assert "instance" not in document  # the file as speedscope reads it, nothing added
    assert document["name"].endswith(f"s of busy stacks, {HEAVY}")
    # No request of that route ran between the two downloads: the same window, to the nanosecond.
    check_exports_agree(profile, document)

    assert whole.status_code == 200
    endpoints = {
        label for _, _, labels in pprof_stacks(read_pprof(whole.content, tmp_path)) for label in labels
    }
    assert ("endpoint", HEAVY) in endpoints

    for bad in (unknown, uppercase):
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/json"
        assert "format" in bad.json()["errors"]
    assert refused.status_code == 401


def test_exports_of_another_instance_travel_over_the_channel_layer(daphne_server, tmp_path):
    """With REDIS_URL, ?instance= asks the other process: the pprof bytes cross as base64, intact."""
    from tests.multi import two_servers

    js_readers()
    published_profile_pb2()
    with two_servers(daphne_server, {"PROFILING_RATE_DEFAULT": "1000/h"}) as (first, second):
        other = f"{socket.gethostname()}:{second.process.pid}"
        with first.client() as client:
            deadline = time.monotonic() + 15
            while other not in {
                i["instance"] for i in client.get("/api/profiling/instances").json()["instances"]
            }:
                assert time.monotonic() < deadline, "the second instance never registered"
                time.sleep(0.1)
            asked = {"instance": other, "window": 10}
            pprof = client.get("/api/profiling/flamegraph", params={**asked, "format": "pprof"})
            speedscope = client.get("/api/profiling/flamegraph", params={**asked, "format": "speedscope"})

    assert pprof.status_code == 200, pprof.text
    assert pprof.headers["content-type"] == "application/octet-stream"
    assert pprof.headers["content-disposition"] == 'attachment; filename="profile.pb.gz"'
    check_pprof_structure(read_pprof(pprof.content, tmp_path))
    assert speedscope.status_code == 200, speedscope.text
    assert speedscope.headers["content-disposition"] == 'attachment; filename="profile.speedscope.json"'
    document = speedscope.json()
    check_speedscope(document)
    assert document["name"].startswith(f"{other}: ") and "instance" not in document
