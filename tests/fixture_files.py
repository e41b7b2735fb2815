"""Where the test data files are (tests/fixtures), for tests in any folder under tests/."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Small hand-made exports whose marts were computed by hand (expected.json).
HANDMADE = FIXTURES / "handmade"
