"""The checkout the tests run from: its docs, fixtures and bench scripts are not in the package.

The package finds its own files (dbt project, suites, profiles) through `moatmetrics.settings`;
only the tests reach for files that stay in the checkout.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
