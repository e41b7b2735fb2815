"""What a trust table says, as digests: how the explanations test proves that the SQL scoring
gives byte for byte the same confidence, factors, flags, sentences and drivers as the pandas
scoring it replaced (issue 14), on the small demo data, without committing every sentence.

`tests/fixtures/trust/demo_scores.json` holds the digests of the pandas implementation's
output on the session's demo home (seed 42), taken before the switch (on the 1m bench data
the two agreed on every byte of every row as well). A change to the demo data, the marts or
the trust rules changes them on purpose: check the new sentences, then rewrite the file with
`python tests/trust_digest.py <warehouse.duckdb>`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from moatmetrics.marts import GRAINS
from moatmetrics.trust.tables import FACTOR_COLUMNS

PARTS = ("confidence", "needs_review", "explanation", "drivers")


def _digest(values: Iterable[Any]) -> str:
    text = json.dumps(list(values), separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digests(mart: str, scores: pd.DataFrame) -> dict[str, Any]:
    """Row count and one digest per part, over the rows in grain order."""
    grains = list(GRAINS[mart])
    rows = scores.assign(**{c: scores[c].astype(str) for c in grains}).sort_values(
        grains, kind="stable"
    )
    keys = rows[grains].to_numpy().tolist()
    numbers = rows[["confidence", *FACTOR_COLUMNS]].to_numpy().tolist()
    return {
        "rows": len(rows),
        "confidence": _digest(zip(keys, numbers, strict=True)),
        "needs_review": _digest(zip(keys, rows["needs_review"].astype(bool), strict=True)),
        "explanation": _digest(zip(keys, rows["explanation"], strict=True)),
        "drivers": _digest(zip(keys, rows["drivers"], strict=True)),
    }


if __name__ == "__main__":  # rewrite the fixture from a demo home's warehouse
    import sys
    from pathlib import Path

    import duckdb

    with duckdb.connect(sys.argv[1], read_only=True) as con:
        found = {
            mart: digests(mart, con.execute(f"SELECT * FROM trust.{mart}_scores").df())
            for mart in GRAINS
        }
    fixture = Path(__file__).parent / "fixtures" / "trust" / "demo_scores.json"
    fixture.write_text(json.dumps(found, indent=2) + "\n")
