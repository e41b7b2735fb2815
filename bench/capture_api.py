"""Dump every GET response of the API and the console on one built demo home, for comparing code.

Why: a refactor that must not change behaviour is checked by serving the *same* home with the
old and the new code and comparing the dumps byte for byte (`diff -r`). Each capture serves a
fresh copy of the home, so the audit entries one capture writes never show in the other.

    python bench/capture_api.py build HOME          # demo data, one pipeline run, an admin key
    python bench/capture_api.py dump HOME OUT_DIR   # serve a copy of HOME in-process, dump GETs
    python bench/capture_api.py compare OLD NEW     # byte for byte, then with the clock masked

Run `dump` with the old code first (e.g. `PYTHONPATH=<export of the base commit>`), then with
the new code, and `compare` the two folders. Two dumps of the same code already differ where a
body carries the clock or a fresh random id (audit timestamps, request ids and the hash chain
over them, a PDF's creation date, file id and "Generated" minute, request durations in
/metrics): `compare` lists the bodies that differ byte for byte, then checks they are equal once
those are masked (PDFs: their text).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KEY_FILE = "capture-admin.key"


def build(home: Path) -> None:
    env = {**os.environ, "MOATMETRICS_HOME": str(home)}
    cli = [sys.executable, "-c", "from moatmetrics.cli import entry; entry()"]
    subprocess.run([*cli, "demo-data", "--out", str(home / "landing")], env=env, check=True)
    subprocess.run([*cli, "run"], env=env, check=True)
    key = subprocess.run(
        [*cli, "keys", "create", "--name", "capture", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (home / KEY_FILE).write_text(key)


def _paths(client, headers: dict[str, str]) -> list[str]:
    """Every GET path of the OpenAPI document and the console, parameters filled from the data."""
    spec = client.get("/openapi.json").json()
    marts = [m["name"] for m in client.get("/api/v1/marts", headers=headers).json()["marts"]]
    snapshots = client.get("/api/v1/snapshots", headers=headers).json()
    snapshot_ids = [s["snapshot_id"] for s in snapshots.get("snapshots", snapshots)][:2]
    uploads = client.get("/api/v1/uploads", headers=headers).json()
    upload_ids = [str(u["id"]) for u in uploads.get("uploads", [])][:3]
    reviews = client.get("/api/v1/reviews", headers=headers).json()
    review_ids = [str(r["id"]) for r in reviews.get("items", [])][:3]
    fill = {
        "name": marts,
        "mart": marts,
        "snapshot_id": snapshot_ids,
        "upload_id": upload_ids,
        "item_id": review_ids,
    }
    paths: list[str] = []
    for template, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        names = re.findall(r"{(\w+)}", template)
        candidates = [template]
        for name in names:
            candidates = [
                c.replace("{" + name + "}", value)
                for c in candidates
                for value in fill.get(name, ())
            ]
        paths.extend(candidates)
    clients = client.get(
        "/api/v1/marts/client_profitability", headers=headers, params={"limit": 3}
    ).json()
    client_ids = sorted({row["client_id"] for row in clients.get("rows", clients.get("data", []))})
    console = ["/", "/console", "/console/clients", "/console/reviews", "/console/uploads"]
    console += ["/console/audit", "/console/audit/export", "/console/reports"]
    console += [f"/console/clients/{c}" for c in client_ids[:2]]
    console += [f"/console/uploads/{u}" for u in upload_ids[:2]]
    console += [f"/console/reviews/{r}" for r in review_ids[:2]]
    return sorted(set(paths)) + console


def dump(home: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "home"
        shutil.copytree(home, copy)
        os.environ["MOATMETRICS_HOME"] = str(home)  # same path as built: paths in bodies match
        os.environ["MOATMETRICS_RUN_ON_UPLOAD"] = "0"
        shutil.move(str(home), str(Path(scratch) / "original"))
        shutil.move(str(copy), str(home))
        try:
            _dump(home, out)
        finally:
            shutil.rmtree(home)
            shutil.move(str(Path(scratch) / "original"), str(home))


def _dump(home: Path, out: Path) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    key = (home / KEY_FILE).read_text().strip()
    headers = {"Authorization": f"Bearer {key}"}
    out.mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        client.cookies.set("mm_console", key)
        index = []
        for path in _paths(client, headers):
            response = client.get(path, headers=headers, follow_redirects=False)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.strip("/")) or "root"
            (out / f"{name}.body").write_bytes(response.content)
            index.append({"path": path, "status": response.status_code,
                          "content_type": response.headers.get("content-type")})  # fmt: skip
        (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"{len(index)} GET responses in {out}")


_CLOCK = [
    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?",  # ISO times
    rb"\b[0-9a-f]{32}\b|\b[0-9a-f]{64}\b",  # request ids, audit hashes
    rb"D:\d{14}[^)]*",  # PDF creation / modification dates
    rb"/ID\s*\[<[0-9a-fA-F]+><[0-9a-fA-F]+>\]",  # PDF file id
    rb"_seconds_(?:sum|bucket)[^\n]*|_start_time_seconds[^\n]*|pid=\"\d+\"",  # /metrics
]


def _pdf_text(path: Path) -> bytes:
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(path).pages)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<masked>", text).encode()


def compare(old: Path, new: Path) -> int:
    """0 when every body is equal byte for byte or once the clock is masked."""
    failures = 0
    names = sorted({p.name for p in old.iterdir()} | {p.name for p in new.iterdir()})
    for name in names:
        a, b = (old / name), (new / name)
        if not (a.exists() and b.exists()):
            print(f"MISSING {name}")
            failures += 1
            continue
        x, y = a.read_bytes(), b.read_bytes()
        if x == y:
            continue
        if x.startswith(b"%PDF") and y.startswith(b"%PDF"):
            # The report prints the minute it was generated inside a compressed stream.
            x, y = _pdf_text(a), _pdf_text(b)
        for pattern in _CLOCK:
            x, y = re.sub(pattern, b"<masked>", x), re.sub(pattern, b"<masked>", y)
        verdict = "equal once the clock is masked" if x == y else "DIFFERENT"
        failures += x != y
        print(f"{name}: not byte-identical; {verdict}")
    print(f"{len(names)} files compared, {failures} different")
    return 1 if failures else 0


if __name__ == "__main__":
    command, home = sys.argv[1], Path(sys.argv[2]).resolve()
    if command == "build":
        build(home)
    elif command == "compare":
        sys.exit(compare(home, Path(sys.argv[3]).resolve()))
    else:
        dump(home, Path(sys.argv[3]).resolve())
