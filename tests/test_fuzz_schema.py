"""Schemathesis against the running server's own OpenAPI schema: no 500, every response conforms.

Two phases, as `schemathesis run` has them: the coverage phase (boundary and invalid values
of every parameter, missing auth, unexpected methods, positive and negative) and fuzzing
with several seeds. Every answer must be one the schema documents: its status, its
Content-Type, its body and headers.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks

from tests.servers import DaphneServer

pytestmark = pytest.mark.server

FUZZ_ENV = {
    # Fuzzing measures correctness, not limits: give it room (throttles have their own tests).
    "PROFILING_RATE_DEFAULT": "100000/m",
    "PROFILING_RATE_LEAK_DETECTION": "100000/m",
    "PROFILING_RATE_SNAPSHOT": "100000/m",
    "PROFILING_SNAPSHOT_MAX_COUNT": "3",
}
SEEDS = (1, 2, 3)
EXAMPLES_PER_SEED = 5
# What the server answers, against what the schema documents, and that it rejects what
# the schema does not allow (negative_data_rejection, ST201).
RESPONSE_CHECKS = [
    checks.negative_data_rejection,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = DaphneServer(tmp_path_factory.mktemp("fuzz"), env=FUZZ_ENV).start()
    yield server
    server.stop()


def test_api_conforms_to_its_schema(fuzz_server):
    """Every operation: its coverage cases, then a few generated requests per seed."""
    from schemathesis.checks import not_a_server_error

    api_schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/api/schema/?format=json")
    headers = {"X-API-Key": fuzz_server.api_key}
    response_checks = [not_a_server_error, *RESPONSE_CHECKS]
    failures, operations, coverage_cases = [], 0, 0

    def call(case):
        case.call_and_validate(base_url=fuzz_server.base_url, headers=headers, checks=response_checks)

    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        generation = api_schema.config.generation_for(operation=operation)
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        for case in api_schema.iter_coverage_cases(
            operation, generation_modes=modes, generation_config=generation
        ):
            coverage_cases += 1
            try:
                call(case)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} (coverage, {case.method} {case.query}): {exc}")
        for fuzz_seed in SEEDS:

            @seed(fuzz_seed)
            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_SEED,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def exercise(case):
                call(case)

            try:
                exercise()
            except Exception as exc:
                failures.append(f"{operation.label} (fuzzing, seed {fuzz_seed}): {exc}")
    assert operations >= 2
    assert coverage_cases >= operations
    assert not failures, "\n\n".join(failures)
