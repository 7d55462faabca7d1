"""JSON errors everywhere under /api/, bodies refused early, never a 500 for bad input."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nope", "/api/profiling/nope", "/api/profiling/memory/extra"])
def test_unknown_api_path_is_json_404(client_with_key, path):
    response = client_with_key.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_healthz_needs_no_auth_and_tells_nothing(anon_client):
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.server
def test_oversized_body_is_refused_with_json_413_before_django(daphne_server):
    server = daphne_server()
    with server.client() as client:
        response = client.post("/api/profiling/memory", content=b"x" * (70 * 1024))
        assert response.status_code == 413
        assert response.json()["detail"].startswith("Request body too large")

        def chunks():
            for _ in range(100):
                yield b"y" * 1024

        response = client.post("/api/profiling/memory", content=chunks())
        assert response.status_code == 413
        # A small body still reaches Django (and gets its 405 there).
        assert client.post("/api/profiling/memory", content=b"{}").status_code == 405
        assert client.get("/api/profiling/memory").status_code == 200
