"""Two Daphne processes sharing real PostgreSQL and Redis: keys and limits hold across them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.multi import two_servers

pytestmark = pytest.mark.server


@pytest.fixture
def pair(daphne_server):
    with two_servers(daphne_server, {"PROFILING_RATE_DEFAULT": "20/h"}) as servers:
        yield servers


def test_limit_is_exact_across_two_processes(pair):
    first, second = pair
    key = first.api_key

    def call(i):
        server = (first, second)[i % 2]
        with httpx.Client(timeout=30) as client:
            return client.get(
                f"{server.base_url}/api/profiling/memory", headers={"X-API-Key": key}
            ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(call, range(50)))
    assert codes.count(200) == 20
    assert codes.count(429) == 30


def test_key_created_through_one_is_accepted_by_the_other_and_revocation_is_immediate(pair):
    first, second = pair
    key = first.create_key("shared")
    for server in (first, second):
        with server.client(key) as client:
            assert client.get("/api/profiling/cpu").status_code == 200
    second.manage("revoke_api_key", "--name", "shared")
    for server in (first, second):
        with server.client(key) as client:
            assert client.get("/api/profiling/cpu").status_code == 401
