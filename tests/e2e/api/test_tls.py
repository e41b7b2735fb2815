"""`moatmetrics serve --certfile --keyfile`: the API and console over TLS, with a certificate
authority and a server certificate made by the test (cryptography), read by a client that
trusts only that authority. Over TLS every response carries HSTS and the console's cookies are
Secure; over plain HTTP neither is claimed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serving import free_port, wait_until

MONTH = dt.timedelta(days=30)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(authority certificate, server certificate for 127.0.0.1, server key), as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("MoatMetrics test CA"))
        .issuer_name(_name("MoatMetrics test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - MONTH)
        .not_valid_after(now + MONTH)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - MONTH)
        .not_valid_after(now + MONTH)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, key_path)
    return ca_path, cert_path, key_path


def _serve(env: dict[str, str], port: int, *extra: str, log: Path) -> subprocess.Popen[bytes]:
    moatmetrics = str(Path(sys.executable).with_name("moatmetrics"))
    command = [moatmetrics, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*command, "--workers", "1", *extra], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


@pytest.fixture
def tls_home(tmp_path: Path, start_server, publish_generation, backend):
    """A home with a published snapshot and one key per role (made by `start_server`)."""
    home = tmp_path / "home"
    publish_generation(home, 1)
    plain = start_server(home)  # also the plain-HTTP comparison
    env = {
        **os.environ,
        **backend.env(home),
        "DO_NOT_TRACK": "1",
        "MOATMETRICS_RUN_ON_UPLOAD": "0",
    }
    return plain, env


def test_the_api_and_console_over_tls(tmp_path: Path, tls_home) -> None:
    plain, env = tls_home
    ca, cert, key = make_certificates(tmp_path)
    port = free_port()
    process = _serve(
        env, port, "--certfile", str(cert), "--keyfile", str(key), log=tmp_path / "log"
    )
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(ca))
    try:

        def up() -> bool:
            assert process.poll() is None, (tmp_path / "log").read_text()
            try:
                return httpx.get(url + "/health", verify=trust, timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up)
        headers = {"Authorization": f"Bearer {plain.keys['viewer']}"}
        with httpx.Client(base_url=url, verify=trust, timeout=30, headers=headers) as https:
            page = https.get("/api/v1/marts/client_profitability", params={"limit": 5})
            assert page.status_code == 200, page.text
            assert page.headers["strict-transport-security"] == "max-age=31536000"
            refused = https.get("/api/v1/marts/client_profitability", headers={"Authorization": ""})
            assert refused.status_code == 401  # the gate's own answers carry HSTS too
            assert refused.headers["strict-transport-security"] == "max-age=31536000"
        with httpx.Client(base_url=url, verify=trust, timeout=30) as browser:
            form = browser.get("/console/sign-in")
            assert "secure" in form.headers["set-cookie"].lower()
            signed_in = browser.post(
                "/console/sign-in", data={"csrf": _csrf(form.text), "key": plain.keys["viewer"]}
            )
            assert signed_in.status_code == 303, signed_in.text
            assert "secure" in signed_in.headers["set-cookie"].lower()
            assert browser.get("/console").status_code == 200  # the Secure cookie goes back
        with pytest.raises(httpx.TransportError):  # a client that does not trust the CA
            httpx.get(url + "/health", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    with plain.client("viewer") as http:  # plain HTTP: no HSTS, no Secure cookie
        assert "strict-transport-security" not in http.get("/health").headers
    with httpx.Client(base_url=plain.url, timeout=30) as browser:
        assert "secure" not in browser.get("/console/sign-in").headers["set-cookie"].lower()


def test_serve_refuses_a_key_that_is_not_the_certificates(tmp_path: Path, tls_home) -> None:
    _, env = tls_home
    _, cert, _ = make_certificates(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, _, wrong_key = make_certificates(other)
    port = free_port()
    log = tmp_path / "log"
    process = _serve(env, port, "--certfile", str(cert), "--keyfile", str(wrong_key), log=log)
    assert process.wait(timeout=120) != 0
    assert f"cannot use {cert} with {wrong_key} for TLS" in log.read_text()
    process = _serve(env, port, "--certfile", str(cert), log=log)
    assert process.wait(timeout=120) != 0
    assert "--certfile and --keyfile go together" in log.read_text()
