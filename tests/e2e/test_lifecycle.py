"""`jalur up` keeps its data across a restart, and Ctrl-C stops every process it started."""

import signal
import subprocess
import time
from pathlib import Path

import httpx

from infra.embedded import free_port
from tests.e2e.conftest import banner_value, create_key, start_up, trusting, wait_healthy
from tests.e2e.test_system import booking
from tests.support import wait_until


def processes_mentioning(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines() if marker in line and "ps -eo" not in line]


def tracked_once_projected(url: str, cert: Path, awb: str, token: str) -> httpx.Response:
    """As a client reads its own write: a 503 (the read model is still catching up, as on a
    fresh start while the consumer joins its group) means ask again."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(
            f"{url}/v1/track/{awb}",
            params={"consistency_token": token},
            verify=trusting(cert),
            timeout=30,
        )
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer


def test_a_restart_keeps_the_data_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    url, cert = f"https://127.0.0.1:{port}", tmp_path / "tls" / "cert.pem"
    first, output = start_up(tmp_path, port)
    try:
        wait_healthy(url, cert, output)
        key = create_key(banner_value(output, "database"))
        headers = {"X-API-Key": key}
        booked = httpx.post(
            f"{url}/v1/shipments", json=booking(), headers=headers, verify=trusting(cert)
        )
        awb, token = booked.json()["awb"], booked.json()["consistency_token"]
        seen = tracked_once_projected(url, cert, awb, token)
        assert seen.status_code == 200, seen.text
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=60) == 0
    assert wait_until(lambda: processes_mentioning(str(tmp_path)) == [], timeout=30), (
        processes_mentioning(str(tmp_path))
    )

    second, output = start_up(tmp_path, port)
    try:
        wait_healthy(url, cert, output)
        tracked = httpx.get(f"{url}/v1/track/{awb}", verify=trusting(cert))
        assert tracked.status_code == 200
        assert tracked.json()["awb"] == awb
    finally:
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0
    assert wait_until(lambda: processes_mentioning(str(tmp_path)) == [], timeout=30)
