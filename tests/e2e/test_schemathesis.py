"""Schemathesis against the served OpenAPI document: generated valid and malformed
requests, every check on; no answer may be a server error or break the documented contract.

One check is off: `positive_data_acceptance` expects every schema-valid request to
succeed, but a JSON schema cannot state a waybill's check digit, the tariff rules that
tie fields together (no COD on YES, JTR from 10 kg) or the shipment's state machine.
Those answers are 4xx by design and are asserted one by one in tests/integration/test_api.py.

Two refusals are added to the answers `negative_data_rejection` accepts for invalid data:
413 (a generated body over 1 MiB) and 431 (a generated query string whose request head
exceeds 16 KiB). Both carry the API's JSON error body and are documented.

Network errors are not retried: every request gets an answer, and a connection dropped
without one fails the run. Generated query strings run to hundreds of KiB; uvicorn refuses
a request head over 16 KiB, and used to close while the client was still sending, so the
client's write failed with "EOF occurred in violation of protocol" and the answer was
lost. infra/runtime/http_protocol.py now answers 431 and drains the request before closing
(tests/integration/test_http_refusals.py holds each such request).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.e2e.conftest import System
from tests.e2e.people import verified_customer


def test_generated_and_malformed_requests_never_break_the_api(system: System) -> None:
    """As a device: bookings and scans are reached with valid credentials."""
    _run(system, f"X-API-Key: {system.api_key}")


def test_generated_requests_as_a_customer_never_break_the_api(system: System) -> None:
    """As a signed-in customer: the routes only customers reach (`/v1/me...`) are tried
    with valid credentials; the device run already covers the rest. Signing out (and
    signing out everywhere) is left out, or its first call would end the run's session."""
    with system.client() as client:
        person = verified_customer(client, system.state_dir, "Schema")
    authorization = person.headers["Authorization"]
    _run(
        system,
        f"Authorization: {authorization}",
        "--include-path-regex",
        "^/v1/me",
        "--exclude-name",
        "DELETE /v1/me/sessions",
    )


CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "431", "5xx"]
"""


def _run(system: System, header: str, *extra: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "schemathesis.toml"
        config.write_text(CONFIG)
        _run_with(config, system, header, *extra)


def _run_with(config: Path, system: System, header: str, *extra: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{system.url}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--mode",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20261125",
            "--header",
            header,
            "--tls-verify",
            str(system.cert),
            "--request-timeout",
            "30",
            "--no-color",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
