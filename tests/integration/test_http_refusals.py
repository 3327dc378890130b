"""Requests the server refuses before the application reads them still get an answer.

Each request here used to end, for a client that sends it at an ordinary pace, in "EOF
occurred in violation of protocol" on the client's write: the server answered and closed
while the request was still arriving, and the reset swallowed the answer. The client
below sends in 16 KiB pieces with a pause between them, so the server has always
decided before the request is complete: the case that used to fail every time.
"""

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.runtime.embedded import EmbeddedBroker, free_port
from infra.runtime.tls import ensure_certificate
from infra.settings import Settings
from tests.support import ROOT, new_master_key, settings_env

CRLF = b"\r\n"
HEAD = b"Host: 127.0.0.1\r\nConnection: close\r\n"
JSON = b"Content-Type: application/json\r\n"
LONG_QUERY = (
    b"%F4%86%A6%A0" * 20_000
)  # 240 KiB: what schemathesis generates for a 20,000-char string


def chunked(total: int, piece: int = 100_000) -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (piece, b" " * piece) for _ in range(total // piece))
    return chunks + b"0\r\n\r\n"


REFUSED: list[tuple[str, bytes, int, str]] = [
    (
        "240 KiB query string on public tracking",
        b"GET /v1/track?awb=" + LONG_QUERY + b" HTTP/1.1\r\n" + HEAD + CRLF,
        431,
        "request_head_too_large",
    ),
    (
        "240 KiB consistency token on my shipments",
        b"GET /v1/me/shipments?consistency_token=" + LONG_QUERY + b" HTTP/1.1\r\n" + HEAD + CRLF,
        431,
        "request_head_too_large",
    ),
    (
        "240 KiB query on one of my shipments",
        b"GET /v1/me/shipments/JL0?before=" + LONG_QUERY + b" HTTP/1.1\r\n" + HEAD + CRLF,
        431,
        "request_head_too_large",
    ),
    (
        "100 KiB header",
        b"GET /v1/track?awb=JL0 HTTP/1.1\r\n" + HEAD + b"X-Big: " + b"a" * 100_000 + CRLF + CRLF,
        431,
        "request_head_too_large",
    ),
    (
        "body over 1 MiB with Content-Length",
        b"POST /v1/scans HTTP/1.1\r\n"
        + HEAD
        + JSON
        + b"Content-Length: 2000000\r\n\r\n"
        + b" " * 2_000_000,
        413,
        "body_too_large",
    ),
    (
        "chunked body over 1 MiB",
        b"POST /v1/scans HTTP/1.1\r\n"
        + HEAD
        + JSON
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + chunked(3_000_000),
        413,
        "body_too_large",
    ),
    (
        "malformed Content-Length, then a body",
        b"POST /v1/scans HTTP/1.1\r\n"
        + HEAD
        + JSON
        + b"Content-Length: 1x\r\n\r\n"
        + b" " * 200_000,
        400,
        "malformed_http",
    ),
    (
        "control character in a header name, then a body",
        b"POST /v1/scans HTTP/1.1\r\n"
        + HEAD
        + JSON
        + b"Content-Length: 200000\r\nX-Bad\x01: a\r\n\r\n"
        + b" " * 200_000,
        400,
        "malformed_http",
    ),
]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str, broker: EmbeddedBroker
) -> Iterator[tuple[int, ssl.SSLContext]]:
    """The real API app through the real HTTPS server (infra.runtime.tls.serve_https), as
    `jalur api` runs it, on a database of its own."""
    state = tmp_path_factory.mktemp("refusals")
    cert, key = ensure_certificate(state)
    name = f"jalur_test_{uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    settings = Settings(
        database_url=make_conninfo(pg_admin_url, dbname=name),
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid4().hex[:12]}",
        master_key=new_master_key(),
    )
    port = free_port()
    code = (
        "import sys; from pathlib import Path; from infra.runtime.tls import serve_https; "
        "serve_https('infra.runtime.web_app:from_environment', '127.0.0.1', int(sys.argv[1]), "
        "Path(sys.argv[2]), Path(sys.argv[3]), trusted_proxies=[], log_level='warning')"
    )
    with (state / "api.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", code, str(port), str(cert), str(key)],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        _wait_answering(port, context, server, state / "api.log")
        yield port, context
    finally:
        server.terminate()
        server.wait(15)
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _wait_answering(
    port: int, context: ssl.SSLContext, server: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            answer, _ = send_slowly(port, context, b"GET /healthz HTTP/1.1\r\n" + HEAD + CRLF)
            if answer.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(log.read_text())


def send_slowly(port: int, context: ssl.SSLContext, raw: bytes) -> tuple[bytes, str | None]:
    """Send `raw` in 16 KiB pieces, 5 ms apart, then read until the server closes.
    Returns what was read and the first error, if any (on sending or on reading)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
    ):
        try:
            for start in range(0, len(raw), 16_384):
                tls.sendall(raw[start : start + 16_384])
                time.sleep(0.005)
        except OSError as error:
            return b"", f"sending: {error!r}"
        answer = b""
        try:
            while chunk := tls.recv(65_536):
                answer += chunk
        except OSError as error:
            return answer, f"reading: {error!r}"
        return answer, None


@pytest.mark.parametrize(("case", "raw", "status", "code"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_refused_request_is_answered_not_dropped(
    served: tuple[int, ssl.SSLContext], case: str, raw: bytes, status: int, code: str
) -> None:
    port, context = served
    answer, error = send_slowly(port, context, raw)

    assert error is None, f"{case}: {error}"
    head, _, body = answer.partition(CRLF + CRLF)
    assert head.split(CRLF)[0].startswith(b"HTTP/1.1 %d " % status), answer[:300]
    assert json.loads(body)["error"]["code"] == code
    assert json.loads(body)["error"]["message"]
