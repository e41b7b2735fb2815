"""The trust layer: how far each published number can be trusted, and why it is what it is.

Python assets run after dbt and write warehouse schema ``trust``; publishing joins those
tables onto the marts (``moatmetrics.snapshots``). Modules:

- `tables`: names, grains and column types shared by the assets and the publisher;
- `evidence`: SQL that gathers, per mart row, the inputs the factors need;
- `confidence`: the named factors and the rule that combines them;
- `formatting`, `templates`, `explanations` and `utilization_explanations`: sentences and
  machine-readable drivers;
- `scoring`: one run per mart and the churn run, warehouse in, trust tables out;
- `churn`: the churn-risk model (gradient boosting, time-based validation, SHAP drivers);
- `review`: the review queue in the app database.

Everything is deterministic: the same warehouse gives byte-identical trust tables. The method
is documented for users in ``docs/trust.md``.
"""
