"""`?instance=` means what its schema says: empty is this process, anything else must be host:pid."""

import re

import pytest

pytestmark = pytest.mark.django_db


def instance_schema(client) -> dict:
    schema = client.get("/api/schema/?format=json").json()
    parameters = schema["paths"]["/api/profiling/memory"]["get"]["parameters"]
    return next(p["schema"] for p in parameters if p["name"] == "instance")


@pytest.mark.parametrize(("value", "status"), [("", 200), ("nohost", 400), ("host:12x", 400)])
def test_the_schema_accepts_exactly_what_the_server_accepts(client_with_key, profiler, value, status):
    pattern = instance_schema(client_with_key)["pattern"]
    assert client_with_key.get("/api/profiling/memory", {"instance": value}).status_code == status
    assert bool(re.search(pattern, value)) == (status == 200)


def test_this_process_by_name_matches_the_pattern(client_with_key, profiler):
    pattern = instance_schema(client_with_key)["pattern"]
    assert re.search(pattern, profiler.instance)
    assert client_with_key.get("/api/profiling/memory", {"instance": profiler.instance}).status_code == 200
