"""Per-client, per-endpoint limits: exact counts, separate buckets, Retry-After."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_rate_window")]

RATES = {"RATE_DEFAULT": "3/m", "RATE_LEAK_DETECTION": "2/m", "RATE_SNAPSHOT": "1/m"}


def client_for(key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


@override_settings(PROFILING=RATES)
def test_limit_is_exact_then_429_with_retry_after(client_with_key, profiler):
    codes = [client_with_key.get("/api/profiling/memory").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    response = client_with_key.get("/api/profiling/memory")
    retry = int(response["Retry-After"])
    assert 1 <= retry <= 60
    body = response.json()
    assert body["retry_after"] == retry
    assert body["detail"] == f"Request was throttled. Expected available in {retry} seconds."


@override_settings(PROFILING=RATES)
def test_each_endpoint_has_its_own_bucket(client_with_key, profiler):
    for _ in range(3):
        assert client_with_key.get("/api/profiling/memory").status_code == 200
    assert client_with_key.get("/api/profiling/memory").status_code == 429
    assert client_with_key.get("/api/profiling/cpu").status_code == 200


@override_settings(PROFILING=RATES)
def test_each_key_has_its_own_bucket(make_key, profiler):
    first, second = client_for(make_key("a")[1]), client_for(make_key("b")[1])
    for _ in range(3):
        assert first.get("/api/profiling/memory").status_code == 200
    assert first.get("/api/profiling/memory").status_code == 429
    assert second.get("/api/profiling/memory").status_code == 200


@override_settings(PROFILING=RATES)
def test_forwarded_for_header_does_not_reset_the_limit(client_with_key, profiler):
    for i in range(3):
        assert (
            client_with_key.get("/api/profiling/memory", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
            == 200
        )
    response = client_with_key.get("/api/profiling/memory", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


@override_settings(PROFILING=RATES)
def test_staff_session_is_limited_per_user(staff_user, profiler):
    client = APIClient()
    client.force_login(staff_user)
    codes = [client.get("/api/profiling/cpu").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_unauthenticated_requests_are_401_not_429(anon_client, profiler):
    codes = {anon_client.get("/api/profiling/memory").status_code for _ in range(120)}
    assert codes == {401}


@pytest.mark.server
def test_limit_is_exact_under_concurrent_requests(daphne_server):
    """40 requests at once against a 15/hour limit: exactly 15 pass, on a real server."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    server = daphne_server(env={"PROFILING_RATE_DEFAULT": "15/h"})
    barrier_url = f"{server.base_url}/api/profiling/memory"
    headers = {"X-API-Key": server.api_key}

    def call(_):
        with httpx.Client(timeout=30) as client:
            return client.get(barrier_url, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(call, range(40)))
    assert codes.count(200) == 15
    assert codes.count(429) == 25
