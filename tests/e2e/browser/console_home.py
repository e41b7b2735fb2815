"""The console under test: its URL, home, a key per role, and signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from second_factor import pass_second_factor

from moatmetrics.settings import Settings


@dataclass
class Console:
    url: str
    home: Path
    keys: dict[str, str]
    settings: Settings
    # Admin keys' TOTP secrets, read from the enrolment page at their first sign-in.
    totp_secrets: dict[str, str] = field(default_factory=dict)

    def api(self, role: str) -> httpx.Client:
        """The HTTP API with a Bearer key (to check what the console did)."""
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    @contextmanager
    def signed_in(self, role: str) -> Iterator[httpx.Client]:
        """An httpx client holding a console session of the role (signed in via the form)."""
        with httpx.Client(base_url=self.url, timeout=30.0) as http:
            form = http.get("/console/sign-in")
            token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            done = http.post(
                "/console/sign-in", data={"csrf": token, "key": self.keys[role], "next": "/console"}
            )
            assert done.status_code == 303, done.text
            if role == "admin":  # admin keys also need a code from the authenticator app
                done = pass_second_factor(http, done, self.totp_secrets, role)
                assert done.status_code in (200, 303), done.text  # 200: the recovery codes
            yield http
