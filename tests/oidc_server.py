"""The OpenID provider the single sign-on tests use: panva's certified `oidc-provider` on Node.

`tests/oidc_provider/server.mjs` runs it on a loopback port (installed by `make install`:
`npm ci --prefix tests/oidc_provider`). Without Node or that install the SSO tests skip, except
in CI (`MOATMETRICS_REQUIRE_OIDC=1` or `CI` set), where they fail and say what is missing,
as the PostgreSQL tests do (`postgres_server.py`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from serving import free_port, wait_until

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "moatmetrics-console"
CLIENT_SECRET = "console-secret"
STARTUP_LIMIT_S = 60.0  # Node and oidc-provider start in about a second here


def oidc_required() -> bool:
    return os.environ.get("MOATMETRICS_REQUIRE_OIDC") == "1" or bool(os.environ.get("CI"))


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (apt-get install nodejs npm): no test OpenID provider"
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return f"oidc-provider is not installed: `npm ci --prefix {PROVIDER_DIR}` (make install)"
    return None


class OidcProvider:
    """One provider process; `mode` is one of server.mjs's (normal, wrong-audience, ...)."""

    def __init__(self, mode: str, log_path: Path) -> None:
        missing = _missing()
        if missing:
            if oidc_required():
                pytest.fail(f"the single sign-on tests must run here: {missing}")
            pytest.skip(missing)
        self.mode = mode
        self.log_path = log_path
        # The port is free when chosen and bound by Node a moment later: another process may
        # take it in between. Then the provider is started again on another port, instead of
        # waiting for ever on a server that is not ours. A provider that does not listen
        # within STARTUP_LIMIT_S is started again too: a stuck Node process must cost the
        # suite a minute, not the test's whole timeout.
        for _ in range(3):
            self._start()
            if wait_until(self._settled) == "ready":
                return
            self.stop()
        raise AssertionError(
            f"the OpenID provider did not start in 3 attempts:\n{log_path.read_text()}"
        )

    def _start(self) -> None:
        self.started = time.monotonic()
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["node", "server.mjs", "--port", str(self.port), "--mode", self.mode],
                cwd=PROVIDER_DIR, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def _settled(self) -> str | None:
        """ "ready" (our provider answers), "taken" (the port is another server's), "stuck"
        (not listening after STARTUP_LIMIT_S), or None (not listening yet)."""
        if self.process.poll() is not None:
            if "EADDRINUSE" in self.log_path.read_text():
                return "taken"
            raise AssertionError(f"the OpenID provider exited:\n{self.log_path.read_text()}")
        try:
            url = f"{self.issuer}/.well-known/openid-configuration"
            answer = httpx.get(url, timeout=5.0)
        except httpx.TransportError:
            return "stuck" if time.monotonic() - self.started > STARTUP_LIMIT_S else None
        try:
            ours = answer.status_code == 200 and answer.json().get("issuer") == self.issuer
        except ValueError:  # not JSON: another server
            ours = False
        return "ready" if ours else "taken"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def sso_sign_in(console_url: str, account: str) -> tuple[httpx.Client, httpx.Response]:
    """Play the browser: from the console's sign-in page through the provider, where
    `account` signs in, back to the console's callback. Returns the client (its cookies) and
    the callback's answer."""
    http = httpx.Client(base_url=console_url, timeout=30.0, follow_redirects=True)
    sign_in_page = http.get("/console/sign-in")
    start = re.search(r'href="(/console/sso/start[^"]*)"', sign_in_page.text)
    assert start, "the sign-in page offers single sign-on"
    interaction = http.get(start.group(1).replace("&amp;", "&"))
    assert interaction.status_code == 200, interaction.text
    login_path = interaction.json()["login"]  # the provider's sign-in for the test account
    provider_origin = f"{interaction.url.scheme}://{interaction.url.netloc.decode()}"
    answer = http.post(provider_origin + login_path, data={"login": account})
    assert answer.url.path == "/console/sso/callback", answer.text
    return http, answer
