"""ENABLE_PROFILING=false in the host: no profiler, every profiling endpoint a JSON 503, the host as usual."""

from __future__ import annotations

import pytest

from tests.integration.hostproject import HostServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.mark.parametrize("kind", ["gunicorn", "daphne"])
def test_with_profiling_disabled_the_api_answers_503_and_the_host_serves_as_usual(host_project, kind):
    with HostServer(host_project, kind, env={"ENABLE_PROFILING": "false"}) as server:
        with server.client() as client:
            for path in ("/api/profiling/memory", "/api/profiling/bottlenecks", "/api/profiling/instances"):
                response = client.get(path)
                assert response.status_code == 503, (path, response.status_code, response.text[:500])
                assert response.headers["content-type"].startswith("application/json"), path
                assert response.json().get("detail"), path
            assert client.get("/hello/").status_code == 200
            assert client.get("/admin/login/").status_code == 200
            assert client.get("/work/").status_code == 200
        log = server.log(10**7)
    assert "profiler started" not in log, log[-4000:]
