"""The API's TLS front door and the embedded services `jalur up` starts."""

import http.client
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from fastapi import FastAPI, Request

from infra.runtime.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from infra.runtime.tls import MOZILLA_INTERMEDIATE_CIPHERS, ensure_certificate

ROOT = Path(__file__).resolve().parents[2]


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def hello() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/client")
    def client(request: Request) -> dict[str, str | None]:
        return {"host": request.client.host if request.client else None}

    return app


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cert, _key = ensure_certificate(tmp_path_factory.mktemp("state"))
    return cert


@contextmanager
def serving(cert: Path, trusted_proxies: str = "") -> Iterator[int]:
    """The test app over HTTPS in its own process; yields its port."""
    port = free_port()
    code = (
        "import sys; from pathlib import Path; from infra.runtime.tls import serve_https; "
        "serve_https('tests.integration.test_tls:make_app', '127.0.0.1', int(sys.argv[1]), "
        "Path(sys.argv[2]), Path(sys.argv[3]), "
        "trusted_proxies=[p for p in sys.argv[4].split(',') if p], log_level='warning')"
    )
    key = cert.with_name("key.pem")
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(port), str(cert), str(key), trusted_proxies], cwd=ROOT
    )
    try:
        _wait_listening(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def https_port(cert: Path) -> Iterator[int]:
    with serving(cert) as port:
        yield port


def _wait_listening(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "HTTPS server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("HTTPS server did not start")


def client_context(cert: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cert)
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def handshake(port: int, ctx: ssl.SSLContext) -> tuple[str, str | None]:
    """The negotiated (cipher, protocol version)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return negotiated(tls)


def negotiated(tls: ssl.SSLSocket) -> tuple[str, str | None]:
    cipher = tls.cipher()  # its second item is the version that defined the suite: not wanted
    assert cipher is not None
    return cipher[0], tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_client_is_refused(cert: Path, https_port: int) -> None:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_1)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # otherwise OpenSSL 3 will not even offer 1.1
    with pytest.raises(ssl.SSLError):
        handshake(https_port, ctx)


def test_tls_1_2_client_gets_a_mozilla_cipher_and_the_page(cert: Path, https_port: int) -> None:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_2)
    conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=5)
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("server") is None
    assert isinstance(conn.sock, ssl.SSLSocket)
    cipher, version = negotiated(conn.sock)
    conn.close()
    assert version == "TLSv1.2"
    assert cipher in MOZILLA_INTERMEDIATE_CIPHERS.split(":")


def test_tls_1_3_client_is_served(cert: Path, https_port: int) -> None:
    _cipher, version = handshake(https_port, client_context(cert, ssl.TLSVersion.TLSv1_3))
    assert version == "TLSv1.3"


def test_cbc_cipher_is_refused(cert: Path, https_port: int) -> None:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-RSA-AES128-SHA")
    with pytest.raises(ssl.SSLError):
        handshake(https_port, ctx)


@pytest.mark.parametrize("curve", ["secp521r1", "X448"])
def test_curves_outside_the_profile_are_refused(cert: Path, https_port: int, curve: str) -> None:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    ctx.set_ecdh_curve(curve)
    with pytest.raises(ssl.SSLError):
        handshake(https_port, ctx)


def test_dhe_only_client_is_served(cert: Path, https_port: int) -> None:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("DHE-RSA-AES128-GCM-SHA256")
    cipher, _version = handshake(https_port, ctx)
    assert cipher == "DHE-RSA-AES128-GCM-SHA256"


def client_seen(cert: Path, port: int, forwarded_for: str) -> str:
    ctx = client_context(cert, ssl.TLSVersion.TLSv1_3)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    conn.request("GET", "/client", headers={"X-Forwarded-For": forwarded_for})
    host = json.loads(conn.getresponse().read())["host"]
    conn.close()
    return str(host)


def test_a_forwarded_client_address_is_ignored_unless_the_proxy_is_trusted(
    cert: Path, https_port: int
) -> None:
    assert client_seen(cert, https_port, "203.0.113.7") == "127.0.0.1"
    with serving(cert, trusted_proxies="10.0.0.0/8") as port:
        assert client_seen(cert, port, "203.0.113.7") == "127.0.0.1"
    with serving(cert, trusted_proxies="10.0.0.0/8,127.0.0.1") as port:
        assert client_seen(cert, port, "203.0.113.7") == "203.0.113.7"


def test_certificate_is_reused_and_its_key_is_private(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path)
    assert ensure_certificate(tmp_path) == (cert, key)
    assert cert.read_bytes() == ensure_certificate(tmp_path)[0].read_bytes()
    assert key.stat().st_mode & 0o777 == 0o600


def topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def test_embedded_broker_forgets_topics_when_restarted(tmp_path: Path) -> None:
    broker = EmbeddedBroker.start(tmp_path / "logs")
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for future in admin.create_topics([NewTopic("jalur.test.events", 2, 1)]).values():
            future.result(timeout=10)
        assert "jalur.test.events" in topics(broker.bootstrap)

        broker.restart()

        assert broker.bootstrap.endswith(f":{broker.port}")
        assert "jalur.test.events" not in topics(broker.bootstrap)
    finally:
        broker.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", broker.port), timeout=1).close()
    assert (tmp_path / "logs" / "broker.log").exists()


def test_embedded_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres.start(tmp_path / "postgres")
    try:
        with psycopg.connect(postgres.url) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (42)")
    finally:
        postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.url, connect_timeout=2)

    postgres = EmbeddedPostgres.start(tmp_path / "postgres")
    try:
        with psycopg.connect(postgres.url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
    finally:
        postgres.stop()
