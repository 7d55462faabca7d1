"""Two deployments of the host on one Redis database, told apart only by their cache KEY_PREFIX.

Their channel layers keep channels_redis' default prefix, as most hosts do: the profiler's
own keys and groups must still be namespaced by the KEY_PREFIX alone.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.integration.hostproject import (
    HostServer,
    fresh_redis_db,
    instances,
    listed_pids,
    wait_for_instances,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def deployments(host_project):
    with ExitStack() as stack:
        redis_url, prefix, _client = stack.enter_context(fresh_redis_db())
        servers = []
        for name in ("blue", "green"):
            server = HostServer(
                host_project,
                "gunicorn",
                env={"REDIS_URL": redis_url, "HOST_CACHE_PREFIX": f"{prefix}-{name}"},
            )
            stack.callback(server.stop)
            servers.append(server.start())
        for server in servers:
            with server.client() as client:
                wait_for_instances(client, 2, server)
        yield servers


def test_each_deployment_lists_only_its_own_workers(deployments):
    for server in deployments:
        with server.client(headers={"Connection": "close"}) as client:
            for _ in range(3):
                pids = listed_pids(instances(client))
                assert sorted(pids) == sorted(server.worker_pids()), (server.kind, pids, server.worker_pids())


def test_a_worker_of_the_other_deployment_is_not_reachable(deployments):
    blue, green = deployments
    with green.client() as client:
        other = instances(client)["instances"][0]["instance"]
    with blue.client() as client:
        response = client.get("/api/profiling/cpu", params={"instance": other})
    assert response.status_code == 404, (response.status_code, response.text[:500])
