"""Status lines on a real Daphne carry the standard reason phrase, 429 included."""

import http

import pytest

pytestmark = pytest.mark.server


def test_daphne_throttled_response_says_too_many_requests(daphne_server):
    server = daphne_server(env={"PROFILING_RATE_DEFAULT": "2/h"})
    with server.client() as client:
        assert [client.get("/api/profiling/memory").status_code for _ in range(2)] == [200, 200]
        response = client.get("/api/profiling/memory")
    assert response.status_code == 429
    assert response.reason_phrase == "Too Many Requests"
    assert response.json()["retry_after"] == int(response.headers["Retry-After"])


def test_daphne_knows_every_standard_reason_phrase():
    from twisted.web import http as twisted_http

    from profiling.asgi_limits import adapt_daphne

    adapt_daphne()
    for status in http.HTTPStatus:
        assert twisted_http.RESPONSES[status.value] != b"Unknown Status"
    assert twisted_http.RESPONSES[429] == b"Too Many Requests"
    assert twisted_http.RESPONSES[200] == b"OK"  # Twisted's own phrases are kept
