"""Fixtures for the console tests: one real demo home, one key per role, and the API process
serving it over real HTTP.

The home is a private copy of the session's demo home (demo data through the real pipeline,
tests/built_homes.py): review items, churn risk and uploads exist as a user would see them.
A copy, because the server runs pipeline runs after uploads, as in production, so the upload
flow ends in a real ingest and a new snapshot in this home.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from built_homes import BuiltHome, copy_home
from console_home import Console
from playwright.sync_api import expect
from serving import served_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import ROLES, create_key

ARTIFACTS = Path(__file__).parent / "artifacts"

# How long an `expect(...)` waits for the page to reach what it asserts (Playwright's default:
# 5 s). A bound on waiting, not a speed the test asserts: on a loaded two-core machine the
# API reference (Swagger UI rendering the whole OpenAPI document) took longer than 5 s to
# show its heading, and the test failed with the heading on the page. Pages that render
# sooner pass as soon as they do.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, demo_home: BuiltHome) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-home")
    settings = copy_home(demo_home, home).settings
    keys = {}
    with session_scope(settings, write=True) as session:
        for role in ROLES:
            keys[role] = create_key(session, Actor("tests"), f"console-{role}", role)[1]
    log = tmp_path_factory.mktemp("console-log") / "server.log"
    with served_api(home, log) as url:
        yield Console(url, home, keys, settings)
