from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from moatmetrics.ingest.loader import Ingestor, UploadResult
from moatmetrics.settings import Settings


@pytest.fixture
def ingestor(home: Settings, warehouse: duckdb.DuckDBPyConnection) -> Ingestor:
    return Ingestor(warehouse, home)


@pytest.fixture
def upload(
    tmp_path: Path, ingestor: Ingestor
) -> Callable[..., UploadResult]:
    """Write `content` (str or bytes) to `files/<name>` and ingest it."""

    def _upload(name: str, content: str | bytes, entity: str | None = None) -> UploadResult:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return ingestor.ingest_file(path, entity_name=entity)

    return _upload
