"""The mart registry: which marts the product publishes and the columns that identify a row.

One place for the list that dbt builds (`dbt_project/models/marts`), the trust layer scores,
snapshots publish and the console filters on. A new mart is added here, as a dbt model, and in
the API's catalog (`api/mart_catalog.py`, its description and row schema); see CONTRIBUTING.md.
"""

from __future__ import annotations

#: The scored dbt marts and their grain, in publishing order.
GRAINS: dict[str, tuple[str, ...]] = {
    "client_profitability": ("client_id", "month"),
    "license_utilization": ("client_id", "vendor", "product", "month"),
    "staff_utilization": ("staff_id", "month"),
}
MART_NAMES: tuple[str, ...] = tuple(GRAINS)
#: The churn-risk scores, published beside the marts.
RISK_TABLE = "client_risk"
#: Published marts: the dbt marts (with their trust columns) and the churn-risk scores.
PUBLISHED_MARTS: tuple[str, ...] = (*MART_NAMES, RISK_TABLE)
