"""Privacy proof: a full run and the API attempt no connection beyond this machine.

Every process (the CLI, Dagster's in-process run, the dbt subprocess, uvicorn) is traced with
`strace -f` for the system calls that open or send to network peers. Any peer other than a
Unix socket, loopback (127.0.0.0/8, ::1) or a netlink socket fails the test. The negative
case adds a deliberate outbound call to a `moatmetrics` process and shows that the same
analysis catches it; that call never leaves the machine, because strace makes the kernel
refuse it (fault injection) before any packet is sent.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from oidc_server import CLIENT_ID, CLIENT_SECRET, OidcProvider, sso_sign_in
from serving import free_port, wait_for_api

BIN = Path(sys.executable).parent / "moatmetrics"
STRACE = shutil.which("strace")
NETWORK_CALLS = "connect,sendto,sendmsg"
INET = re.compile(r'sa_family=AF_INET6?,.*?(?:inet_addr|inet_pton\(AF_INET6?,)\s*\(?"([^"]+)"')
FAMILY = re.compile(r"sa_family=(AF_[A-Z0-9]+)")

pytestmark = [
    pytest.mark.usefixtures("dbt_manifest"),
    pytest.mark.skipif(STRACE is None, reason="strace is part of the machine image"),
]


def outbound_attempts(trace_dir: Path) -> list[str]:
    """Trace lines whose peer is not local: what would have left the machine."""
    leaks = []
    for trace in trace_dir.glob("trace*"):
        for line in trace.read_text(errors="replace").splitlines():
            if not any(f"{call}(" in line for call in NETWORK_CALLS.split(",")):
                continue
            family = FAMILY.search(line)
            if family is None or family.group(1) in ("AF_UNIX", "AF_NETLINK", "AF_UNSPEC"):
                continue
            address = INET.search(line)
            if address and ipaddress.ip_address(address.group(1)).is_loopback:
                continue
            leaks.append(line.strip())
    return leaks


def _traced(trace_dir: Path, *command: str, inject: bool = False) -> list[str]:
    argv = [
        STRACE,
        "-ff",
        "-qq",
        "--seccomp-bpf",
        "-e",
        f"trace={NETWORK_CALLS}",
        "-o",
        str(trace_dir / "trace"),
    ]
    if inject:  # refuse every connect in the kernel: recorded, never sent
        argv += ["-e", "inject=connect:error=ENETUNREACH"]
    return [*argv, *command]


@pytest.fixture
def demo_home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    env = {**os.environ, "MOATMETRICS_HOME": str(home)}
    subprocess.run(
        [str(BIN), "demo-data", "--out", str(home / "landing")],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def test_full_run_and_api_stay_on_this_machine(tmp_path, demo_home):
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    run = subprocess.run(
        _traced(trace_dir, str(BIN), "run"),
        env=demo_home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "published snapshot" in run.stdout
    assert list(trace_dir.glob("trace*")), "strace recorded nothing"

    key = subprocess.run(
        [str(BIN), "keys", "create", "--name", "privacy", "--role", "viewer"],
        env=demo_home,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Single sign-on through an OpenID provider on loopback: the API talks to it, nothing else.
    provider = OidcProvider("normal", tmp_path / "provider.log")
    secret_file = tmp_path / "oidc-client-secret"
    secret_file.write_text(CLIENT_SECRET)
    sso_env = {
        "MOATMETRICS_OIDC_ISSUER": provider.issuer,
        "MOATMETRICS_OIDC_CLIENT_ID": CLIENT_ID,
        "MOATMETRICS_OIDC_CLIENT_SECRET_FILE": str(secret_file),
        "MOATMETRICS_OIDC_SCOPES": "openid email profile groups",
        "MOATMETRICS_OIDC_GROUP_ROLES": "msp-admins=admin",
    }
    port = free_port()
    server = subprocess.Popen(
        _traced(trace_dir, str(BIN), "serve", "--port", str(port)),
        env={**demo_home, **sso_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_api(port, server)
        auth = {"Authorization": f"Bearer {key}"}
        for mart in ("client_profitability", "license_utilization", "staff_utilization"):
            response = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/marts/{mart}", headers=auth, timeout=30
            )
            assert response.status_code == 200
        for report in ("client-profitability?format=pdf", "license-savings?format=xlsx"):
            response = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/reports/{report}", headers=auth, timeout=60
            )
            assert response.status_code == 200  # fonts and rendering are all local
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as console:
            form = console.get("/console/sign-in").text  # the web console, signed in
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            assert console.post("/console/sign-in", data={"csrf": token, "key": key}).is_redirect
            for page in ("/console", "/console/clients", "/console/uploads"):
                assert console.get(page).status_code == 200
        sso, signed_in = sso_sign_in(f"http://127.0.0.1:{port}", "alice")
        with closing(sso):
            assert signed_in.status_code == 200 and sso.get("/console").status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # strace and the traced server alike
        server.wait(timeout=30)
        provider.stop()

    assert outbound_attempts(trace_dir) == []


def test_a_deliberate_outbound_call_is_caught(tmp_path):
    """The same analysis flags a `moatmetrics` process to which an outbound call was added.

    The call is made as the interpreter starts (`sitecustomize`), before any command's work,
    so a quick command (`snapshots list`) shows it as well as a full run would (a full run
    here cost 40-50 s for nothing the positive case does not already cover)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('203.0.113.7', 443), timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
    )
    env = {**os.environ, "MOATMETRICS_HOME": str(tmp_path / "home"), "PYTHONPATH": str(hook)}
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    subprocess.run(
        _traced(trace_dir, str(BIN), "snapshots", "list", inject=True),
        env=env,
        capture_output=True,
        timeout=600,
    )
    leaks = outbound_attempts(trace_dir)
    assert leaks and "203.0.113.7" in leaks[0]


OTEL_PROBE = """
from opentelemetry import metrics, trace

asked = []


class Tracers(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        asked.append("tracer")
        return trace.NoOpTracer()


class Meters(metrics.MeterProvider):
    def get_meter(self, name, *args, **kwargs):
        asked.append("meter")
        return metrics.NoOpMeter(name)


trace.set_tracer_provider(Tracers())  # as an operator's instrumentation might
metrics.set_meter_provider(Meters())
from fastapi.testclient import TestClient

from api.main import create_app

with TestClient(create_app()) as client:
    assert client.get("/health").status_code == 200
    assert client.get("/api/v1/marts").status_code == 401
print("asked:", ",".join(asked) or "nothing")
"""


def test_fastapi_telemetry_is_off_even_when_the_environment_asks_for_it(tmp_path):
    """FastAPI hands requests to any OpenTelemetry provider configured in the process and, with
    FASTAPI_OTEL_AUTO_CONFIGURE=true, adds OTLP exporters: the API must do neither."""
    from checkout import REPO_ROOT

    env = {
        **os.environ,
        "MOATMETRICS_HOME": str(tmp_path / "home"),
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://203.0.113.7:4318",
    }
    probe = subprocess.run(
        [sys.executable, "-c", OTEL_PROBE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "asked: nothing"
    assert "telemetry" not in probe.stderr.lower()
