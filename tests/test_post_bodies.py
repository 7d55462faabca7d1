"""The POST endpoints take no body or a JSON object: anything else is a JSON 400, never a 200."""

import pytest

from profiling.core import runtime as core_runtime
from profiling.core.memory.service import memory_analysis
from tests.conftest import make_runtime

pytestmark = pytest.mark.django_db

API = "/api/profiling"
BAD_BODY = "The body must be empty or a JSON object (Content-Type: application/json)."


@pytest.fixture
def analysis_profiler(tmp_path):
    runtime = make_runtime(snapshot_dir=tmp_path / "snapshots", snapshot_max_count=3)
    previous = core_runtime.install(runtime)
    runtime.ensure_running()
    yield runtime
    memory_analysis(runtime).stop()
    runtime.stop()
    core_runtime.install(previous)


@pytest.mark.parametrize("path", ["leak-detection", "snapshot"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"a": 1', "application/json"),
        ("[1, 2]", "application/json"),
        ("42", "application/json"),
        ('"text"', "application/json"),
        ("null", "application/json"),
        ("a=1", "application/x-www-form-urlencoded"),
        ("plain words", "text/plain"),
    ],
)
def test_if_body_is_not_a_json_object_then_400(client_with_key, analysis_profiler, path, body, content_type):
    response = client_with_key.post(f"{API}/{path}", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": BAD_BODY}


@pytest.mark.parametrize("path", ["leak-detection", "snapshot"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [("", None), ("", "application/json"), ("{}", "application/json"), ('{"any": [1]}', "application/json")],
)
def test_if_body_is_empty_or_a_json_object_then_200(
    client_with_key, analysis_profiler, path, body, content_type
):
    kwargs = {"data": body, "content_type": content_type} if content_type else {}
    response = client_with_key.post(f"{API}/{path}", **kwargs)
    assert response.status_code == 200, response.content
