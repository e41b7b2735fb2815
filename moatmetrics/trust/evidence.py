"""Per mart row, the evidence the confidence factors and explanations are computed from.

The evidence is modelled in dbt (``dbt_project/models/evidence/<mart>_evidence.sql``), after
the marts and from the same intermediate models: the mart row itself, how many input rows it
rests on and how many of those carry a data-quality warning, the entity's trailing three
months (the three calendar months before the row's month, whatever rows exist) and the mean
and spread of its previous six, snapshot coverage, and the portfolio medians of the month.
Counting in dbt, by the rules the marts use (absence work types, client aliases, what counts
as revenue or cost), keeps the counts a confidence rests on equal to the rows the numbers
come from; in PostgreSQL mode dbt builds them there and the pipeline pulls them back.
`moatmetrics.trust.scoring` reads a table as the first CTE of the statement that adds the
factors and sentences.

Every input belongs to the row's own entity except the portfolio medians, which feed
explanations only, never confidence: a change in one client's data therefore never changes
another client's confidence (review items of other clients stay closed).
"""

from __future__ import annotations

#: The schema dbt builds the evidence models in (``dbt_project.yml``).
SCHEMA = "evidence"


def model_name(mart: str) -> str:
    """The dbt model holding a mart's evidence: ``client_profitability_evidence``."""
    return f"{mart}_evidence"


def table(mart: str) -> str:
    """The warehouse table a mart's evidence is read from."""
    return f"{SCHEMA}.{model_name(mart)}"


#: The row order of each mart's trust table (`scoring.scored_sql` sorts by it; the evidence
#: tables themselves are unsorted).
ORDER = {
    "client_profitability": ("client_id", "month"),
    "license_utilization": ("client_id", "vendor NULLS FIRST", "product", "month"),
    "staff_utilization": ("staff_id", "month"),
}
