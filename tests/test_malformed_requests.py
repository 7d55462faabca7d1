"""Malformed requests on a real Daphne: a documented JSON 400, never a bare or HTML page, never a 500."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

pytestmark = pytest.mark.server

INSTANCES = "/api/profiling/instances"


def raw_request(server, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `head` (request line and headers, no blank line) as is; the status, headers and body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return int(lines[0].split()[1]), headers, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


def documented_statuses(server, path: str) -> set[int]:
    schema = httpx.get(f"{server.base_url}/api/schema/?format=json", timeout=30).json()
    return {int(code) for code in schema["paths"][path]["get"]["responses"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.servers import DaphneServer

    server = DaphneServer(tmp_path_factory.mktemp("malformed")).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "header",
    [
        b"Cookie: sessionid=a\x00b",  # refused by Twisted's channel before any request exists
        b"Cookie: sessionid=a\x0bb",  # refused by Daphne's header check
        b"X-Bad Header: 1",
        b"NoColonHere",
    ],
)
def test_if_a_header_is_malformed_then_documented_json_400(server, header):
    status, headers, body = raw_request(
        server,
        b"GET "
        + INSTANCES.encode()
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: "
        + server.api_key.encode()
        + b"\r\n"
        + header,
    )
    assert status == 400
    assert status in documented_statuses(server, INSTANCES)
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["detail"].lower().startswith("bad request")


def test_if_too_many_query_fields_then_400_not_500(server):
    query = "&".join(f"f{i}=1" for i in range(1200))
    with server.client() as client:
        response = client.get(f"{INSTANCES}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].lower().startswith("bad request")
