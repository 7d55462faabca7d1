"""`manage.py runserver` with its autoreloader: the profiler runs in the serving child, never the watcher."""

from __future__ import annotations

import psutil
import pytest

from tests.integration.hostproject import HostServer, instances, listed_pids

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


def test_runserver_profiles_its_serving_child_only(host_project):
    with HostServer(host_project, "runserver") as server:
        watcher = server.pid
        children = {child.pid for child in psutil.Process(server.pid).children()}
        with server.client() as client:
            listing = instances(client)
            memory = client.get("/api/profiling/memory")
            assert client.get("/work/").status_code == 200
            assert client.get("/hello/").status_code == 200
        log = server.log(10**7)
    pids = listed_pids(listing)
    assert len(pids) == 1 and pids[0] in children, (listing, watcher, children)
    assert memory.status_code == 200, memory.text[:500]
    assert memory.json()["instance"] == listing["instances"][0]["instance"]
    assert f"profiler started in process {watcher}" not in log, log[-3000:]
