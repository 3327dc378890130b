"""HTTPS for the API: a self-signed certificate for `jalur up`, and a hardened server context.

uvicorn's own context (from `ssl_certfile`) accepts CBC suites and the X448 and P-521
curves, which Mozilla's "intermediate" profile rejects, so we build the context ourselves
and hand it to uvicorn through `ssl_context_factory`.

What the context does, and where it falls short of the profile:

- TLS 1.2 minimum; TLS 1.3 with OpenSSL's default suites (they are Mozilla's three).
- TLS 1.2 suites: exactly Mozilla's intermediate list (ECDHE/DHE with AES-GCM or
  ChaCha20-Poly1305). The DHE suites need DH parameters, or OpenSSL silently never picks
  them; we load the RFC 7919 ffdhe2048 group, as Mozilla recommends.
- Curves: Mozilla lists X25519, prime256v1 and secp384r1. Python 3.11's `ssl` can set
  only one group: `set_ecdh_curve` calls `SSL_CTX_set1_groups` with a single NID (each
  call replaces the last). A `set_groups` method is only now being added to CPython
  (python/cpython#136306); the remaining route, an OpenSSL configuration file named by
  `OPENSSL_CONF`, would be process-wide and invisible from here. So we offer prime256v1
  alone: every client of the profile supports it, X448 and P-521 are gone, and clients
  preferring X25519 use P-256 instead (in TLS 1.3 that costs them one HelloRetryRequest
  round trip). A client offering only X25519 or only secp384r1 is refused, which the
  profile would accept. Add the other two groups when Python can.
- No TLS compression, no renegotiation, the server's cipher order wins.
"""

import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.runtime.http_protocol import LingeringH11Protocol

MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)
ECDH_CURVE = "prime256v1"

# RFC 7919 ffdhe2048, as `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`
# prints it (and as Mozilla publishes it at ssl-config.mozilla.org/ffdhe2048.txt).
FFDHE2048_PEM = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

CERT_LIFETIME = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=7)


def ensure_certificate(state_dir: Path) -> tuple[Path, Path]:
    """Return (cert, key) under `state_dir/tls`, creating a self-signed pair if needed."""
    tls_dir = state_dir / "tls"
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if key_path.exists() and cert_path.exists() and not _expiring(cert_path):
        return cert_path, key_path
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(_self_signed(key).public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _expiring(cert_path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    return cert.not_valid_after_utc - now < RENEW_BEFORE


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    path.chmod(0o600)  # an existing file keeps its old mode through O_CREAT


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Mozilla "intermediate" server context (see the module docstring for the curves)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(MOZILLA_INTERMEDIATE_CIPHERS)
    ctx.set_ecdh_curve(ECDH_CURVE)
    _load_ffdhe2048(ctx)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    ctx.load_cert_chain(certfile=cert, keyfile=key)
    return ctx


def _load_ffdhe2048(ctx: ssl.SSLContext) -> None:
    # load_dh_params only reads from a file.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ffdhe2048.pem"
        path.write_text(FFDHE2048_PEM)
        ctx.load_dh_params(str(path))


def serve_https(
    app: str,
    host: str,
    port: int,
    cert: Path,
    key: Path,
    *,
    trusted_proxies: list[str],
    log_level: str = "info",
) -> None:
    """Serve the ASGI app factory `app` ("module:factory") over HTTPS until stopped. The
    client address comes from X-Forwarded-For only when the peer is a trusted proxy."""
    context = server_ssl_context(cert, key)
    config = uvicorn.Config(
        app,
        factory=True,
        http=LingeringH11Protocol,  # answers what h11 refuses instead of resetting the client
        host=host,
        port=port,
        ssl_context_factory=lambda _config, _default: context,
        log_level=log_level.lower(),
        access_log=False,  # query strings can hold personal data; the API logs requests itself
        server_header=False,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies,
    )
    uvicorn.Server(config).run()
