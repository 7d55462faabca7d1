"""Under Daphne a body over the limit is refused before the server buffers it.

A declared Content-Length over the limit gets its JSON 413 as soon as the headers are in
(the client has sent no byte of the body); a chunked body is cut off at the limit. Several
concurrent 100 MB bodies leave the server's RSS where it was.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import psutil
import pytest

pytestmark = pytest.mark.server

SNAPSHOT = "/api/profiling/snapshot"
BODY_MB = 100
CLIENTS = 4
CHUNK = b"x" * (1 << 20)


def headers_for(server, extra: bytes) -> bytes:
    return (
        (
            f"POST {SNAPSHOT} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {server.api_key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        + extra
        + b"\r\n"
    )


def read_response(sock, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionError):
        pass
    return data


def declared_client(server, results: list) -> None:
    """Declare 100 MB, wait for an answer before sending any of it, then try to send it all."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(headers_for(server, f"Content-Length: {BODY_MB << 20}\r\n".encode()))
        started = time.monotonic()
        answer = read_response(sock, timeout=3.0)
        waited = time.monotonic() - started
        sent = 0
        try:
            for _ in range(BODY_MB):
                sock.sendall(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass
        results.append({"answer": answer, "waited": waited, "sent": sent})


def chunked_client(server, results: list) -> None:
    """Send 1 MiB chunks, up to 100 MB, until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(headers_for(server, b"Transfer-Encoding: chunked\r\n"))
        sent = 0
        try:
            for _ in range(BODY_MB):
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
                sent += len(CHUNK)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        results.append({"answer": read_response(sock, timeout=2.0), "sent": sent})


def run_clients(server, target) -> list[dict]:
    results: list[dict] = []
    threads = [threading.Thread(target=target, args=(server, results)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == CLIENTS
    return results


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def server(daphne_server):
    return daphne_server()


def test_declared_bodies_over_the_limit_are_refused_from_the_headers(server):
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    results = run_clients(server, declared_client)
    growth_mb = (process.memory_info().rss - before) / (1 << 20)
    for result in results:
        assert result["answer"], "no answer before the body was sent"
        status, body = status_and_body(result["answer"])
        assert status == 413
        assert body == {"detail": "Request body too large: the limit is 65536 bytes."}
        assert result["waited"] < 2.0  # answered before the client sent any of the body
    assert growth_mb < 20, f"RSS grew {growth_mb:.0f} MB for {CLIENTS} refused {BODY_MB} MB bodies"
    with server.client() as client:
        assert client.get("/api/profiling/memory").status_code == 200


def test_chunked_bodies_are_cut_off_at_the_limit(server):
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    results = run_clients(server, chunked_client)
    growth_mb = (process.memory_info().rss - before) / (1 << 20)
    for result in results:
        # The server stopped reading: what a client got out is the limit plus socket buffers.
        assert result["sent"] < 32 << 20, result["sent"]
    assert growth_mb < 20, f"RSS grew {growth_mb:.0f} MB for {CLIENTS} refused chunked bodies"
    with server.client() as client:
        assert client.get("/api/profiling/memory").status_code == 200


def test_the_smallest_applicable_limit_wins_and_a_failing_path_check_is_skipped():
    from profiling.asgi_limits import BodySizeLimitMiddleware, ServerBodyLimits

    def broken_paths():
        raise RuntimeError("no URLconf")

    limits = ServerBodyLimits()
    everywhere = BodySizeLimitMiddleware(None, 1000)
    api_only = BodySizeLimitMiddleware(None, 10, paths=lambda: ("/api/profiling/",))
    broken = BodySizeLimitMiddleware(None, 1, paths=broken_paths)
    for middleware in (everywhere, api_only, broken):
        limits.add(middleware)
    assert limits.limit_for("/api/profiling/snapshot") == 10
    assert limits.limit_for("/admin/") == 1000
