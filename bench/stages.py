"""Stage timings of one `moatmetrics run`, read from what the run recorded.

- Steps: the Dagster run's event log in ``$MOATMETRICS_HOME/dagster`` (STEP_START and
  STEP_SUCCESS / STEP_FAILURE timestamps per step key). Step keys map to stages through
  ``bench/stages.json`` (data, not code), so a new step (Great Expectations checks, scoring)
  is picked up by its name; a stage without a step is reported as absent.
- Inside the dbt step: dagster-dbt's "Running dbt command" / "Finished dbt command" messages
  and dbt's own ``run_results.json`` (per-node execution times) split the step into
  dagster-dbt preparation, dbt process start-up (imports, manifest), model / data test /
  unit test execution and the tail.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def load_rules(path: Path = HERE / "stages.json") -> tuple[list[str], list[tuple[str, str]]]:
    config = json.loads(path.read_text())
    rules = [
        (rule["stage"], pattern.lower()) for rule in config["rules"] for pattern in rule["match"]
    ]
    return config["stages"], rules


def stage_of(step_key: str, rules: list[tuple[str, str]]) -> str:
    key = step_key.lower()
    for stage, pattern in rules:
        if fnmatch.fnmatchcase(key, pattern):
            return stage
    return "other"


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _dbt_run_results(run_id: str, dagster_home: Path) -> dict | None:
    """The run's dbt results: in the home's dbt target folder (`Settings.dbt_target_dir`,
    the latest build; the benchmark runs one per home), or, from runs before that folder,
    dagster-dbt's per-invocation dbt_project/target/<op>-<run id[:7]>-<hash>/."""
    found = sorted(
        [
            *(REPO / "dbt_project" / "target").glob(f"*-{run_id[:7]}-*/run_results.json"),
            *(dagster_home.parent / "dbt-target").glob("run_results.json"),
        ],
        key=lambda p: p.stat().st_mtime,
    )
    return json.loads(found[-1].read_text()) if found else None


def dbt_breakdown(
    run_id: str, step: dict, messages: list[tuple[float, str]], dagster_home: Path
) -> dict:
    results = _dbt_run_results(run_id, dagster_home)
    running = next((t for t, m in messages if m.startswith("Running dbt command")), None)
    finished = next((t for t, m in messages if m.startswith("Finished dbt command")), None)
    out: dict = {}
    if running is not None:
        out["dagster_dbt_prepare_s"] = round(running - step["start"], 3)
    if not results or not results.get("results"):
        return out
    by_type: Counter = Counter()
    count: Counter = Counter()
    starts, ends = [], []
    for node in results["results"]:
        kind = node["unique_id"].split(".")[0]
        by_type[kind] += node["execution_time"]
        count[kind] += 1
        for timing in node.get("timing", []):
            if timing.get("started_at") and timing.get("completed_at"):
                starts.append(_iso(timing["started_at"]))
                ends.append(_iso(timing["completed_at"]))
    out["nodes"] = dict(count)
    out["node_execution_s"] = {k: round(v, 3) for k, v in by_type.items()}
    out["dbt_elapsed_s"] = round(results.get("elapsed_time", 0.0), 3)
    if starts and running is not None:
        out["dbt_process_startup_s"] = round(min(starts) - running, 3)
        out["nodes_span_s"] = round(max(ends) - min(starts), 3)
        if finished is not None:
            out["dbt_tail_s"] = round(finished - max(ends), 3)
            out["dagster_after_dbt_s"] = round(step["end"] - finished, 3)
    slowest = sorted(results["results"], key=lambda n: -n["execution_time"])[:8]
    out["slowest_nodes"] = [
        {"node": n["unique_id"], "s": round(n["execution_time"], 3)} for n in slowest
    ]
    return out


def run_stages(
    dagster_home: Path, run_id: str | None, launched_at: float, exited_at: float
) -> dict:
    """Steps, stages and fixed overhead of one run (the latest one when run_id is None)."""
    from dagster import DagsterInstance

    stage_names, rules = load_rules()
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        if run_id is None:
            runs = instance.get_runs(limit=1)
            if not runs:
                return {"error": "no run recorded"}
            run_id = runs[0].run_id
        records = instance.all_logs(run_id)
        status = str(instance.get_run_by_id(run_id).status.value)
    steps: dict[str, dict] = {}
    messages: dict[str, list[tuple[float, str]]] = {}
    events: Counter = Counter()
    run_start = run_end = None
    for record in records:
        event = record.dagster_event
        kind = event.event_type_value if event else "LOG_MESSAGE"
        events[kind] += 1
        if kind in ("PIPELINE_START", "RUN_START"):
            run_start = record.timestamp
        elif kind in ("PIPELINE_SUCCESS", "RUN_SUCCESS", "PIPELINE_FAILURE", "RUN_FAILURE"):
            run_end = record.timestamp
        key = record.step_key
        if not key:
            continue
        step = steps.setdefault(key, {"step": key, "stage": stage_of(key, rules), "checks": 0})
        if kind == "STEP_START":
            step["start"] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            step["end"] = record.timestamp
            step["status"] = "success" if kind == "STEP_SUCCESS" else "failure"
        elif kind == "ASSET_CHECK_EVALUATION":
            step["checks"] += 1
        elif kind == "LOG_MESSAGE" and record.user_message:
            messages.setdefault(key, []).append((record.timestamp, record.user_message))
    timed = [s for s in steps.values() if "start" in s and "end" in s]
    for step in timed:
        step["seconds"] = round(step["end"] - step["start"], 3)
    stages = {name: {"seconds": 0.0, "steps": [], "present": False} for name in stage_names}
    for step in timed:
        stage = stages.setdefault(step["stage"], {"seconds": 0.0, "steps": [], "present": False})
        stage["seconds"] = round(stage["seconds"] + step["seconds"], 3)
        stage["steps"].append(step["step"])
        stage["present"] = True
    first = min((s["start"] for s in timed), default=None)
    last = max((s["end"] for s in timed), default=None)
    result = {
        "run_id": run_id,
        "status": status,
        "steps": [
            {k: (round(v - launched_at, 3) if k in ("start", "end") else v) for k, v in s.items()}
            for s in sorted(timed, key=lambda s: s["start"])
        ],
        "stages": stages,
        "events": dict(events),
        "event_count": sum(events.values()),
    }
    if first is not None:
        result["startup_s"] = round(first - launched_at, 3)
        result["steps_span_s"] = round(last - first, 3)
        result["teardown_s"] = round(exited_at - last, 3)
    if run_start is not None:
        result["process_start_to_run_start_s"] = round(run_start - launched_at, 3)
    if run_end is not None and last is not None:
        result["last_step_to_run_end_s"] = round(run_end - last, 3)
    for step in timed:
        if step["stage"] == "dbt":
            result.setdefault("dbt", {})[step["step"]] = dbt_breakdown(
                run_id, step, messages.get(step["step"], []), dagster_home
            )
    return result
