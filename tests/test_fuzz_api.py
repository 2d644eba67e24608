"""Bad input at scale: schemathesis over the OpenAPI schema of the embedded app, >= 10,000 requests, no 5xx.

Uses the in-process ASGI transport of schemathesis 4 (`schemathesis.openapi.from_asgi`); it runs the app's
lifespan once (so the database and the in-process queue exist) and keeps it until `shutdown_lifespans()`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi

from gateway.app import create_app
from tests.service_helpers import AUTH, settings_for

MIN_REQUESTS = 10_000
# Operations that run the ML models get fewer examples; everything else shares the rest of the budget.
HEAVY_OPERATIONS = {"POST /v1/recognize", "POST /v1/detect", "POST /v1/videos"}
# Per operation and per generation mode (schema-valid input, then schema-violating input).
HEAVY_EXAMPLES = int(os.environ.get("FUZZ_HEAVY_EXAMPLES", "30"))
LIGHT_EXAMPLES = int(os.environ.get("FUZZ_LIGHT_EXAMPLES", "200"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.mark.slow
def test_fuzz_every_operation_without_server_errors(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, max_upload_bytes=2_000_000, max_pixels=5_000_000))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    results = list(schema.get_all_operations())
    assert results and all(isinstance(result, Ok) for result in results), results  # the schema itself is valid
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    sent: dict[str, int] = {}
    failures: list[str] = []

    def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, examples: int) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTH)
            sent[operation.label] = sent.get(operation.label, 0) + 1
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:
            # Nothing in the operation can be made schema-invalid (no parameters, no body): positive mode covers it.
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:
            failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {exc}")

    try:
        for operation in operations:
            for mode in MODES:
                fuzz(operation, mode, HEAVY_EXAMPLES if operation.label in HEAVY_OPERATIONS else LIGHT_EXAMPLES)
    finally:
        asgi.shutdown_lifespans()
    total = sum(sent.values())
    print(f"fuzz: {total} requests over {len(operations)} operations: {sent}")
    assert not failures, "\n\n".join(failures)
    assert total >= MIN_REQUESTS, sent
