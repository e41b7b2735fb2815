"""Churn risk: which current clients look like the clients that left, and why.

Input: ``intermediate.int_client_months_featured`` (one row per client and month; features
from months up to that month only; label ``churned_within_3m``, known when two months of
future data exist). The model is scikit-learn's ``HistGradientBoostingClassifier`` (gradient
boosting on binned features: about a hundred times faster to fit than the exact
``GradientBoostingClassifier`` at the 1m scale) with fixed hyper-parameters, no early stopping
and a fixed ``random_state``, so the same history gives the same scores.

Validation is time-based: the last 30 % of the labelled months (at least three) are held out,
the model is trained on the months before them and scored on them (ROC AUC, precision in the
top decile). The published scores come from a model refitted on every labelled month. Each
score's drivers are its SHAP values (``shap.TreeExplainer``, log-odds), turned into the same
explanation shape as the marts. With too little history nothing is scored and the reason is
returned instead ("3 churned clients; at least 10 needed").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from moatmetrics.trust import formatting as fmt
from moatmetrics.trust.tables import RISK_COLUMNS

#: Feature -> (label in sentences, formatter name in `moatmetrics.trust.formatting`).
FEATURES: dict[str, tuple[str, str]] = {
    "effective_hourly_rate_trend": ("effective hourly rate trend", "signed_percent"),
    "effective_hourly_rate_3m": ("effective hourly rate", "money"),
    "gross_margin_trend": ("gross margin trend", "signed_points"),
    "gross_margin_3m": ("gross margin", "percent"),
    "reactive_hours_trend": ("reactive hours trend", "signed_percent"),
    "reactive_hours_share_3m": ("reactive share of hours", "percent"),
    "hours_per_managed_user_3m": ("hours per managed user", "decimal1"),
    "license_seats_trend": ("license seats trend", "signed_percent"),
    "overdue_invoice_share_3m": ("overdue invoice share", "percent"),
    "revenue_trend": ("revenue trend", "signed_percent"),
    "tenure_months": ("months as a client", "integer"),
}
#: Missing trends mean "no change yet"; missing levels take the training median.
_TRENDS = {name for name in FEATURES if name.endswith("_trend")}

MIN_CHURNED_CLIENTS = 10
MIN_LABELLED_MONTHS = 9
VALIDATION_SHARE = 0.3
MIN_VALIDATION_MONTHS = 3
TOP_DECILE = 0.1
#: Risk bands by predicted probability of leaving within three months.
BANDS = ((0.5, "high"), (0.2, "elevated"), (0.0, "low"))
#: A feature is named as raising or lowering the risk from this SHAP value (log-odds) on.
MIN_SHAP = 0.1
MODEL_PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 5,
    "early_stopping": False,
    "random_state": 0,
}


@dataclass
class ChurnResult:
    """What the asset publishes: the scores (maybe none) and the model's description."""

    status: str  # scored | insufficient_history
    reason: str | None
    scores: pd.DataFrame
    model: dict[str, Any] = field(default_factory=dict)
    retrained: bool = True  # False: the last run's model and scores, kept (same features)


def _model_row(status: str, reason: str | None, **values: Any) -> dict[str, Any]:
    return {
        "status": status,
        "reason": reason,
        "features": json.dumps(list(FEATURES)),
        "model": f"HistGradientBoostingClassifier({json.dumps(MODEL_PARAMS, sort_keys=True)})",
        **values,
    }


def _insufficient(reason: str, **values: Any) -> ChurnResult:
    return ChurnResult(
        "insufficient_history",
        reason,
        pd.DataFrame(columns=list(RISK_COLUMNS)),
        _model_row("insufficient_history", reason, **values),
    )


def _matrix(rows: pd.DataFrame, medians: pd.Series) -> np.ndarray:
    frame = rows[list(FEATURES)].astype(float)
    fill = {name: 0.0 if name in _TRENDS else medians[name] for name in FEATURES}
    return frame.fillna(fill).fillna(0.0).to_numpy()


def _fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**MODEL_PARAMS).fit(x, y)


def _shap(model: Any, x: np.ndarray) -> tuple[np.ndarray, float]:
    import shap

    explainer = shap.TreeExplainer(model)
    values = np.asarray(explainer.shap_values(x), dtype=float).reshape(len(x), len(FEATURES))
    base = float(np.ravel(explainer.expected_value)[0])
    return values, base


def precision_at_top(y: np.ndarray, score: np.ndarray, share: float = TOP_DECILE) -> float:
    """Share of churners among the `share` highest scores (ties broken by position)."""
    k = max(1, math.ceil(share * len(score)))
    order = np.lexsort((np.arange(len(score)), -score))[:k]
    return float(y[order].mean())


def _split(labelled: pd.DataFrame) -> tuple[pd.Series, object] | str:
    """The held-out mask and first validation month, or why there is too little history."""
    months = sorted(labelled["month"].unique())
    if len(months) < MIN_LABELLED_MONTHS:
        return f"{len(months)} months with a known outcome; at least {MIN_LABELLED_MONTHS} needed"
    n_validation = max(MIN_VALIDATION_MONTHS, math.ceil(VALIDATION_SHARE * len(months)))
    first = months[-n_validation]
    held_out = labelled["month"] >= first
    y = labelled["churned_within_3m"]
    if not y[~held_out].any():
        return f"no client churned before {first}; the model has nothing to learn from"
    if not y[held_out].any():
        return f"no client churned from {first} on; the held-out months cannot be scored"
    return held_out, first


def train_and_score(features: pd.DataFrame) -> ChurnResult:
    """Validate on the latest months, refit on all, score every current client with drivers."""
    features = features.sort_values(["client_id", "month"], kind="stable").reset_index(drop=True)
    labelled = features[features["is_label_known"].astype(bool)].reset_index(drop=True)
    labelled["churned_within_3m"] = labelled["churned_within_3m"].astype(bool)
    churned = labelled.loc[labelled["churned_within_3m"], "client_id"].nunique()
    counts = {"n_clients": int(features["client_id"].nunique()), "n_churned": int(churned)}
    if churned < MIN_CHURNED_CLIENTS:
        return _insufficient(
            f"{churned} churned clients; at least {MIN_CHURNED_CLIENTS} needed", **counts
        )
    split = _split(labelled)
    if isinstance(split, str):
        return _insufficient(split, **counts)
    held_out, first = split
    train, validation = labelled[~held_out], labelled[held_out]
    medians = train[list(FEATURES)].astype(float).median()
    y_train = train["churned_within_3m"].to_numpy(int)
    y_val = validation["churned_within_3m"].to_numpy(int)
    model = _fit(_matrix(train, medians), y_train)
    x_val = _matrix(validation, medians)
    p_val = model.predict_proba(x_val)[:, 1]

    from sklearn.metrics import roc_auc_score

    churner_shap, _ = _shap(model, x_val[y_val == 1])
    ranking = sorted(zip(FEATURES, churner_shap.mean(axis=0), strict=True), key=lambda t: -t[1])
    metrics = {
        "roc_auc": round(float(roc_auc_score(y_val, p_val)), 4),
        "precision_at_top_decile": round(precision_at_top(y_val, p_val), 4),
        "validation_base_rate": round(float(y_val.mean()), 4),
        "n_train_rows": len(train),
        "n_validation_rows": len(validation),
        "train_from": min(train["month"]),
        "train_to": max(train["month"]),
        "validation_from": first,
        "validation_to": max(validation["month"]),
        "top_churn_drivers": json.dumps(
            [{"feature": name, "mean_shap": round(float(v), 4)} for name, v in ranking]
        ),
    }
    all_medians = labelled[list(FEATURES)].astype(float).median()
    final = _fit(_matrix(labelled, all_medians), labelled["churned_within_3m"].to_numpy(int))
    scores = _score_current(features, final, all_medians)
    return ChurnResult("scored", None, scores, _model_row("scored", None, **counts, **metrics))


def complete_months_only(features: pd.DataFrame, last_complete: date | None) -> pd.DataFrame:
    """The feature rows up to the last complete month, as if later months had not arrived.

    A month still in progress (a few time entries, no invoices yet) looks like a collapse of
    revenue and hours; scoring it would raise every client's risk and drop the clients that
    have no row in it yet. Each feature of a month uses that month and earlier ones only, so
    cutting later rows leaves them as they are; only the end of the data moves back (which
    clients are current, which labels are known). Unchanged when every month is complete.
    """
    if last_complete is None or not (features["month"] > last_complete).any():
        return features
    kept = features[features["month"] <= last_complete].copy()
    kept["data_last_month"] = last_complete
    kept["last_active_month"] = kept.groupby("client_id")["month"].transform("max")
    horizon = (pd.to_datetime(kept["month"]) + pd.DateOffset(months=2)).dt.date
    kept["is_label_known"] = horizon <= last_complete
    return kept.reset_index(drop=True)


def _current(features: pd.DataFrame) -> pd.DataFrame:
    """Each client still with us: activity in the last month of data, status not churned."""
    last = features["month"] == features["data_last_month"]
    staying = features["client_status"].fillna("active") != "churned"
    return features[last & staying].reset_index(drop=True)


def _score_current(features: pd.DataFrame, model: Any, medians: pd.Series) -> pd.DataFrame:
    current = _current(features)
    if current.empty:
        return pd.DataFrame(columns=list(RISK_COLUMNS))
    x = _matrix(current, medians)
    risk = np.round(model.predict_proba(x)[:, 1], 4)
    values, base = _shap(model, x)
    order = np.lexsort((current["client_id"].to_numpy(), -risk))
    rank = np.empty(len(risk), dtype=np.int64)
    rank[order] = np.arange(1, len(risk) + 1)
    n = len(risk)
    band = np.select([risk >= floor for floor, _ in BANDS], [name for _, name in BANDS], "low")
    out = pd.DataFrame(
        {
            "client_id": current["client_id"],
            "client_name": current["client_name"],
            "month": current["month"],
            "churn_risk": risk,
            "risk_rank": rank,
            "risk_band": band,
        }
    )
    out["explanation"] = explain(current, risk, rank, values)
    out["drivers"] = _drivers_json(current, values, base, n)
    return out.sort_values("risk_rank", kind="stable").reset_index(drop=True)


def feature_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Each feature as it appears in sentences: '<label> <value>' ('<label> unknown')."""
    texts = {}
    for name, (label, formatter) in FEATURES.items():
        value = frame[name].astype(float)
        rendered = getattr(fmt, formatter)(value)
        texts[name] = pd.Series(
            np.where(value.notna(), label + " " + rendered, label + " unknown"), index=frame.index
        )
    return pd.DataFrame(texts)


def explain(
    current: pd.DataFrame, risk: np.ndarray, rank: np.ndarray, shap_values: np.ndarray
) -> pd.Series:
    """'Churn risk 72% (rank 1 of 28 clients): overdue invoice share 67%, license seats trend
    -20% and effective hourly rate trend -32% raise it; months as a client 40 lowers it.'"""
    index = current.index
    texts = feature_text(current).to_numpy(dtype=object)
    order = np.argsort(-shap_values, axis=1, kind="stable")
    ranked_text = np.take_along_axis(texts, order, axis=1)
    ranked_value = np.take_along_axis(shap_values, order, axis=1)
    raising = [
        pd.Series(np.where(ranked_value[:, i] >= MIN_SHAP, ranked_text[:, i], ""), index=index)
        for i in range(3)
    ]
    listed = raising[0] + np.where(
        raising[2] != "",
        ", " + raising[1] + " and " + raising[2],
        np.where(raising[1] != "", " and " + raising[1], ""),
    )
    lowest = np.argmin(shap_values, axis=1)
    rows = np.arange(len(index))
    lowering = np.where(
        shap_values[rows, lowest] <= -MIN_SHAP, "; " + texts[rows, lowest] + " lowers it", ""
    )
    head = (
        "Churn risk "
        + fmt.percent(pd.Series(risk, index=index))
        + " (rank "
        + fmt.integer(pd.Series(rank, index=index).astype(float))
        + " of "
        + fmt.count(pd.Series(float(len(index)), index=index), "client")
        + "): "
    )
    body = pd.Series(
        np.where(listed != "", listed + " raise it", "no feature raises it noticeably"), index=index
    )
    single = (raising[1] == "") & (raising[0] != "")
    body = pd.Series(np.where(single, raising[0] + " raises it", body), index=index)
    return head + body + lowering + "."


def _drivers_json(current: pd.DataFrame, values: np.ndarray, base: float, n: int) -> list[str]:
    """Per client: every feature's value and SHAP value (log-odds), largest first."""
    names = list(FEATURES)
    raw = current[names].astype(float).to_numpy()
    out = []
    for row_values, row_shap in zip(raw, values, strict=True):  # one short JSON per client
        order = np.argsort(-row_shap, kind="stable")
        out.append(
            json.dumps(
                {
                    "clients": n,
                    "base_log_odds": round(base, 4),
                    "features": [
                        {
                            "feature": names[i],
                            "label": FEATURES[names[i]][0],
                            "value": None
                            if np.isnan(row_values[i])
                            else round(float(row_values[i]), 4),
                            "shap": round(float(row_shap[i]), 4),
                        }
                        for i in order
                    ],
                }
            )
        )
    return out
