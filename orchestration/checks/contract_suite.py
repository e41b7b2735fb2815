"""The blocking check of each raw table: its expectation suite on this run's uploads.

The suite itself runs inside the ingest (every row must be judged before it may enter the
warehouse); this check publishes the verdict to Dagster. It fails — and so stops the marts
from being rebuilt, keeping the last published snapshot current — when an upload of the
entity was rejected whole (a structural error, or more than the allowed share of rows with
error-severity problems). Rows rejected under that share are reported, not blocking: the
contract keeps the rest of the file. A file that could not be read at all was quarantined by the
ingest; it fails the check with WARN severity (shown, not blocking), so the files beside it
still publish.
"""

import dagster as dg

from moatmetrics.ingest.loader import UploadResult

CHECK_NAME = "contract_suite"


def check_spec(key: dg.AssetKey, entity: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=key,
        blocking=True,
        description=(
            f"expectations/{entity}.json and the contract's parsing rules on this run's"
            f" {entity} uploads; fails when an upload is rejected whole."
        ),
    )


def _expectation_totals(results: list[UploadResult]) -> list[dict]:
    """Per expectation: unexpected count over the uploads and sample values."""
    totals: dict[tuple, dict] = {}
    for result in results:
        for item in result.expectations:
            key = (item["expectation"], item["column"], item["severity"])
            total = totals.setdefault(key, {**item, "unexpected_count": 0, "sample_values": []})
            total["unexpected_count"] += item["unexpected_count"]
            total["sample_values"] = (total["sample_values"] + item["sample_values"])[:5]
    return list(totals.values())


def check_result(
    key: dg.AssetKey, mine: list[UploadResult], unassigned: list[UploadResult]
) -> dg.AssetCheckResult:
    """The verdict for one raw table (files of unknown entity fail every table's check)."""
    refused = [r for r in mine + unassigned if r.status == "rejected"]
    rejected = [r for r in refused if not r.unreadable]
    quarantined = [r for r in refused if r.unreadable]
    judged = [r for r in mine if r.status != "unchanged"]
    scores = [r.quality_score for r in judged if r.quality_score is not None]
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=not refused,
        severity=dg.AssetCheckSeverity.ERROR if rejected else dg.AssetCheckSeverity.WARN,
        description="; ".join(
            [f"{r.file_name}: rejected — {r.message}" for r in rejected]
            + [f"{r.file_name}: unreadable, quarantined — {r.message}" for r in quarantined]
        )
        or (f"{len(judged)} upload(s) accepted" if judged else "no new uploads"),
        metadata={
            "quality_score": dg.MetadataValue.float(float(min(scores)) if scores else 1.0),
            "rows_rejected": dg.MetadataValue.int(sum(r.rows_rejected for r in judged)),
            "warnings": dg.MetadataValue.int(sum(r.warnings for r in judged)),
            "validation_seconds": dg.MetadataValue.float(
                round(float(sum(r.validation_seconds for r in judged)), 3)
            ),
            "expectations": dg.MetadataValue.json(_expectation_totals(judged)),
            "recommendations": dg.MetadataValue.json(
                [text for r in judged for text in r.recommendations]
            ),
            "rejected_files": dg.MetadataValue.json(
                [
                    {
                        "file": r.file_name,
                        "message": r.message,
                        "report": r.report_path,
                        "first_problems": r.problems[:5],
                    }
                    for r in refused
                ]
            ),
            "quarantined_files": dg.MetadataValue.json(
                [{"file": r.file_name, "to": r.quarantined_to} for r in quarantined]
            ),
        },
    )
