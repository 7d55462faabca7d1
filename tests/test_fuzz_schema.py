"""Schemathesis against the running server's own OpenAPI schema: no 500, every response conforms."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.servers import DaphneServer

pytestmark = pytest.mark.server

FUZZ_ENV = {
    # Fuzzing measures correctness, not limits: give it room (throttles have their own tests).
    "PROFILING_RATE_DEFAULT": "100000/m",
    "PROFILING_RATE_LEAK_DETECTION": "100000/m",
    "PROFILING_RATE_SNAPSHOT": "100000/m",
    "PROFILING_SNAPSHOT_MAX_COUNT": "3",
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = DaphneServer(tmp_path_factory.mktemp("fuzz"), env=FUZZ_ENV).start()
    yield server
    server.stop()


def test_api_conforms_to_its_schema(fuzz_server):
    """Every operation, a bounded number of generated requests each, all built-in checks."""
    api_schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/api/schema/?format=json")
    headers = {"X-API-Key": fuzz_server.api_key}
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def exercise(case):
            case.call_and_validate(base_url=fuzz_server.base_url, headers=headers)

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 2
    assert not failures, "\n\n".join(failures)
