"""The DuckDB renderers (``mm_*`` macros, used by the mart explanations) and the pandas ones
(used by the churn sentences and by the tests' number check) write every value alike."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from moatmetrics.trust import formatting

RENDERERS = (
    "percent", "abs_percent", "signed_percent", "money", "signed_money", "decimal1",
    "signed_decimal1", "integer", "signed_points",
)  # fmt: skip


@pytest.fixture(scope="module")
def values() -> pd.Series:
    """Money, hours and fractions of every size and sign, exact halves (where half to even
    and half away from zero differ), negative zero and a missing value."""
    rng = np.random.default_rng(7)
    return pd.Series(
        np.concatenate(
            [
                rng.normal(0, 1000, 4000).round(3),
                rng.normal(0, 1, 4000),
                rng.normal(0, 1e7, 1000).round(2),
                np.arange(-500, 500) / 200,  # halves of a cent, of a percent, of an hour
                np.arange(-500, 500) / 2000,
                [np.nan, 0.0, -0.0, 0.5, -0.5, 2.5, 0.005, -0.005, 0.045, 0.95, 1e9, -1e-12],
            ]
        ),
        name="value",
    )


@pytest.fixture(scope="module")
def con(values: pd.Series) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    formatting.install_macros(connection)
    connection.register("numbers", values.to_frame())
    return connection


@pytest.mark.parametrize("name", RENDERERS)
def test_each_macro_writes_what_the_pandas_renderer_writes(
    name: str, values: pd.Series, con: duckdb.DuckDBPyConnection
) -> None:
    expected = getattr(formatting, name)(values).tolist()
    written = [text for (text,) in con.execute(f"SELECT mm_{name}(value) FROM numbers").fetchall()]
    differing = [(v, e, w) for v, e, w in zip(values, expected, written, strict=True) if e != w]
    assert differing == []
    assert "" in written and "0" in "".join(written)  # the missing value and zeros were seen


def test_counts_and_rounding_match_pandas(
    values: pd.Series, con: duckdb.DuckDBPyConnection
) -> None:
    counts = [t for (t,) in con.execute("SELECT mm_count(value, 'client') FROM numbers").fetchall()]
    assert counts == formatting.count(values, "client").tolist()
    rounded = con.execute("SELECT mm_round(value, 2) AS r FROM numbers").df()["r"]
    pd.testing.assert_series_equal(rounded, values.round(2) + 0.0, check_names=False)
