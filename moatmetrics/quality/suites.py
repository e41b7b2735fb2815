"""Run an entity's Great Expectations suite (``expectations/<entity>.json``) on an upload.

The suites are data that users can read and extend. Each expectation carries in its ``meta``:
``severity`` (``error`` rejects the row, ``warning`` keeps it and lowers the quality score),
``rule`` and ``fix`` (what the person fixing the file reads) and ``recommendation`` (a summary
sentence with ``{count}``). Suite parameters (``upload_date``, ``reporting_currency``,
``reporting_currencies``) can be used in kwargs as ``{"$PARAMETER": name}`` and in texts as
``{name}``.

GX has no DuckDB datasource, so the typed rows are handed over as a pandas DataFrame; the
``_row_number`` column maps every unexpected value back to the row the user sees. Great
Expectations takes seconds to import, so it is imported here, lazily, never at start-up.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moatmetrics.settings import EXPECTATIONS_DIR

if TYPE_CHECKING:  # pandas loads with Great Expectations, when a file is validated
    import pandas as pd

ROW = "_row_number"
SAMPLE_VALUES = 5


class SuiteError(ValueError):
    """A suite file is unreadable or names something that does not exist."""


@dataclass
class ExpectationOutcome:
    """One expectation's result on one upload, with the rows it flagged."""

    expectation_type: str
    columns: list[str]
    severity: str
    rule: str
    fix: str
    recommendation: str
    unexpected_count: int = 0
    rows: list[int] = field(default_factory=list)
    sample_values: list[Any] = field(default_factory=list)
    error: str | None = None

    def as_metadata(self) -> dict:
        return {
            "expectation": self.expectation_type,
            "column": ", ".join(self.columns),
            "severity": self.severity,
            "unexpected_count": self.unexpected_count,
            "sample_values": [str(v) for v in self.sample_values],
            **({"error": self.error} if self.error else {}),
        }


#: Expectations that judge each row on its own: a suite made of these (plus at most one
#: uniqueness key) gives the same result on any split of the rows that keeps equal keys together.
ROW_WISE = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_values_to_be_of_type",
    }
)
UNIQUENESS = frozenset(
    {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
)


def split_key(document: dict) -> list[str] | None:
    """Columns to split a large upload on for validation, or None when it must stay whole.

    Row-wise expectations may see the rows in any parts; a uniqueness expectation only when
    equal keys land in the same part, so the rows are split by a hash of that key. A suite
    with any other kind of expectation (a mean, a row count, two different keys) is
    validated in one piece.
    """
    keys: set[tuple[str, ...]] = set()
    for spec in document.get("expectations", []):
        kind = spec.get("type")
        if kind in UNIQUENESS:
            keys.add(tuple(_columns(spec.get("kwargs", {}))))
        elif kind not in ROW_WISE:
            return None
    if len(keys) > 1:
        return None
    return list(next(iter(keys))) if keys else []


def merge_outcomes(parts: list[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per expectation from the outcomes of each part (same suite, same order)."""
    merged: list[ExpectationOutcome] = []
    for same in zip(*parts, strict=True):
        first = same[0]
        outcome = ExpectationOutcome(
            first.expectation_type, first.columns, first.severity, first.rule, first.fix,
            first.recommendation,
        )  # fmt: skip
        for part in same:
            outcome.unexpected_count += part.unexpected_count
            outcome.rows.extend(part.rows)
            outcome.sample_values.extend(part.sample_values)
            outcome.error = outcome.error or part.error
        outcome.rows.sort()
        outcome.sample_values = outcome.sample_values[:SAMPLE_VALUES]
        merged.append(outcome)
    return merged


def suite_path(entity: str, folder: Path = EXPECTATIONS_DIR) -> Path:
    return folder / f"{entity}.json"


def load_suite_document(entity: str, folder: Path = EXPECTATIONS_DIR) -> dict:
    path = suite_path(entity, folder)
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"expectation suite {path} could not be read: {exc}") from exc
    for index, expectation in enumerate(document.get("expectations", [])):
        severity = expectation.get("meta", {}).get("severity")
        if severity not in ("error", "warning"):
            raise SuiteError(
                f"{path}: expectation {index + 1} ({expectation.get('type')}) needs"
                " meta.severity 'error' or 'warning'"
            )
    return document


_CONTEXT_LOCK = threading.Lock()


_preload_started = threading.Event()


def preload_in_background() -> None:
    """Start importing GX (about 3 s) while other start-up work and DuckDB reads go on."""
    if not _preload_started.is_set():
        _preload_started.set()
        threading.Thread(target=_context, name="gx-preload", daemon=True).start()


def _context():
    with _CONTEXT_LOCK:
        return _create_context()


@cache
def _create_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("uploads").add_dataframe_asset("upload")
    return context, asset.add_batch_definition_whole_dataframe("whole_upload")


def referenced_columns(document: dict) -> list[str]:
    """Every column the suite's expectations read, in first-use order."""
    seen: dict[str, None] = {}
    for expectation in document.get("expectations", []):
        for column in _columns(expectation.get("kwargs", {})):
            seen.setdefault(column, None)
    return list(seen)


def _columns(kwargs: dict) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list", []))


def _fill(text: str, parameters: dict[str, Any]) -> str:
    for name, value in parameters.items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        text = text.replace("{" + name + "}", shown)
    return text


def _gx_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Dates become timestamps: the frame holds dates as datetime64."""
    import pandas as pd

    return {
        name: pd.Timestamp(value) if isinstance(value, date) else value
        for name, value in parameters.items()
    }


def validate_upload(
    entity: str, frame: pd.DataFrame, parameters: dict[str, Any], folder: Path = EXPECTATIONS_DIR
) -> list[ExpectationOutcome]:
    """Validate the typed rows of one upload; one outcome per expectation of the suite."""
    import great_expectations as gx
    import pandas as pd

    document = load_suite_document(entity, folder)
    _, batch_definition = _context()
    # GX compares dates element by element in Python unless they are datetime64[ns].
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    name = f"{entity}-{id(frame)}"
    try:
        # GX may return results in another order than the suite's: tag each expectation.
        tagged = [
            {**spec, "meta": {**spec.get("meta", {}), "moatmetrics_index": index}}
            for index, spec in enumerate(document["expectations"])
        ]
        suite = gx.ExpectationSuite(name=name, expectations=tagged)
    except Exception as exc:  # GX raises several types for an invalid suite document
        raise SuiteError(f"{suite_path(entity, folder)} is not a valid suite: {exc}") from exc
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [ROW],
            "partial_unexpected_count": SAMPLE_VALUES,
        },
        expectation_parameters=_gx_parameters(parameters),
    )
    outcomes: list[ExpectationOutcome] = []
    ordered = sorted(result.results, key=lambda r: r.expectation_config.meta["moatmetrics_index"])
    for expectation_result, spec in zip(ordered, document["expectations"], strict=True):
        meta = spec.get("meta", {})
        columns = _columns(spec.get("kwargs", {}))
        outcome = ExpectationOutcome(
            expectation_type=spec["type"],
            columns=columns,
            severity=meta["severity"],
            rule=_fill(meta.get("rule", spec["type"]), parameters),
            fix=_fill(meta.get("fix", "correct the value"), parameters),
            recommendation=_fill(
                meta.get("recommendation", "{count} rows break: " + meta.get("rule", spec["type"])),
                parameters,
            ),
        )
        info = expectation_result.exception_info or {}
        if info.get("raised_exception"):
            outcome.error = str(info.get("exception_message")).splitlines()[0]
            outcome.unexpected_count = len(frame)
            outcome.rows = frame[ROW].tolist()
        elif not expectation_result.success:
            details = expectation_result.result
            outcome.rows = [int(item[ROW]) for item in details.get("unexpected_index_list") or []]
            outcome.unexpected_count = len(outcome.rows)
            outcome.sample_values = list(details.get("partial_unexpected_list") or [])[
                :SAMPLE_VALUES
            ]
        outcomes.append(outcome)
    return outcomes
