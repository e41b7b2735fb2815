"""The client's QBR (`audience=client`) over real HTTP, on the demo data's real snapshot.

The PDF's text (pypdf) must hold what the client may see (its name, the MSP's name, its
services per month, its licenses with renewal dates and recommendations) and nothing the MSP
keeps to itself: no margin, cost or profit (not the words, not the numbers) and no other
client's name or id. The logo configured in MOATMETRICS_COMPANY_LOGO must be the image in
the file, and a logo that cannot be printed must be refused with a message naming the fix.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from built_homes import BuiltHome
from checkout import REPO_ROOT
from pypdf import PdfReader
from report_support import MSP_NAME, Api, api_rows, logo_png, money, pdf_lines, run_at, serve

from moatmetrics.settings import MAX_LOGO_BYTES, LogoError, get_settings

ACTIONS = {"reclaim", "true_up", "ok"}
# What the MSP keeps to itself: none of these words may appear in the client's report.
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")  # the generation time
INTERNAL_WORDS = re.compile(
    r"margin|cost|profit|leakage|waste|confidence|to review|needs review", re.I
)


def renewal(text: str | None) -> str:
    if text is None:
        return "n/a"
    value = date.fromisoformat(text)
    return f"{value.day} {value.strftime('%b %Y')}"


def action(row: dict[str, Any]) -> str:
    if row["recommendation"] == "reclaim":
        return f"Remove {row['unused_seats']:,} unused seats"
    if row["recommendation"] == "true_up":
        return f"Add {row['seats_assigned'] - row['seats_purchased']:,} seats"
    if row["recommendation"] == "bill_client":
        return "Confirm seat count"
    return "No change"


def qbr_client(http: httpx.Client) -> tuple[str, list[dict[str, Any]]]:
    """A client whose latest licenses have a renewal date and a seat-removal recommendation,
    and that client's license rows of that month."""
    latest = api_rows(http, "license_utilization", sort="-month", limit=1)[0]["month"]
    rows = api_rows(http, "license_utilization", month_from=latest, month_to=latest)
    wanted = [r for r in rows if r["recommendation"] == "reclaim" and r["term_end_date"]]
    client_id = sorted(r["client_id"] for r in wanted)[0]
    return client_id, [r for r in rows if r["client_id"] == client_id]


def get_qbr(http: httpx.Client, **params: Any) -> httpx.Response:
    response = http.get("/api/v1/reports/client-profitability", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response


def test_client_qbr_shows_the_clients_services_and_licenses_and_nothing_internal(
    branded_api: Api,
) -> None:
    with branded_api.client() as http:
        client_id, licenses = qbr_client(http)
        months = api_rows(http, "client_profitability", client_id=client_id)
        everyone = api_rows(http, "client_profitability")
        response = get_qbr(http, client_id=client_id, audience="client")
        via_license_endpoint = http.get(
            "/api/v1/reports/license-savings",
            params={"client_id": client_id, "audience": "client"},
        )
    assert response.headers["content-disposition"] == (
        f'attachment; filename="client-qbr-{branded_api.snapshot_id}-{client_id}-all-months.pdf"'
    )
    lines = pdf_lines(response.content)
    text = " ".join(lines)
    name = months[-1]["client_name"]
    assert name and f"{name} ({client_id})" in text
    assert f"{MSP_NAME} - Quarterly business review" in lines  # the page header
    assert f"Prepared by {MSP_NAME}" in lines

    # Services: a row per month, then the period total.
    position = 0
    for row in months:
        other = row["revenue"] - row["recurring_revenue"]
        month = date.fromisoformat(row["month"]).strftime("%b %Y")
        cells = [month, money(row["revenue"]), money(row["recurring_revenue"]), money(other),
                 money(row["labor_hours"])]  # fmt: skip
        position = run_at(lines, cells, position) + 1
    total = sum(r["revenue"] for r in months)
    run_at(lines, ["Period total", money(total)], position)

    # Licenses: every product with its renewal date and the recommendation in plain words.
    assert {r["recommendation"] for r in licenses} & ACTIONS
    for row in licenses:
        assert row["product"] in text
        assert renewal(row["term_end_date"]) in text, row
        assert action(row) in text, row
    assert any(r["term_end_date"] and renewal(r["term_end_date"]) in lines for r in licenses)

    # Nothing internal: not the words, not the numbers (unless the same figure is also one the
    # client sees, such as a price that equals a cost).
    assert not INTERNAL_WORDS.search(text), INTERNAL_WORDS.findall(text)
    shown: set[str] = set()
    for row in months:
        shown |= {money(row[k]) for k in ("revenue", "recurring_revenue", "labor_hours")}
        shown.add(money(row["revenue"] - row["recurring_revenue"]))
    for row in licenses:
        shown |= {money(row["unit_price"]), money(row["unused_seats"] * (row["unit_price"] or 0))}
    hidden = {money(row[k]) for row in months
              for k in ("total_cost", "gross_profit", "labor_cost", "license_cost", "other_cost",
                        "effective_hourly_rate")}  # fmt: skip
    hidden |= {money(sum(r[k] for r in months)) for k in ("total_cost", "gross_profit")}
    hidden |= {money(r[k]) for r in licenses for k in ("unit_cost", "monthly_waste")}
    tokens = set(text.split())
    leaked = sorted((hidden - shown) & tokens)
    assert not leaked, f"internal figures in the client's report: {leaked}"

    # No other client: neither its id nor its name.
    others = {(r["client_id"], r["client_name"]) for r in everyone if r["client_id"] != client_id}
    assert len(others) > 10
    for other_id, other_name in others:
        assert not re.search(rf"\b{re.escape(other_id)}\b", text), other_id
        if other_name and other_name not in name and other_name not in MSP_NAME:
            assert other_name not in text, other_name

    # The same QBR from the license report's endpoint (the generation minute masked).
    assert via_license_endpoint.status_code == 200
    again = pdf_lines(via_license_endpoint.content)
    assert [STAMP.sub("", x) for x in again] == [STAMP.sub("", x) for x in lines]


def test_client_qbr_outlook_is_the_clients_trends_and_forecasts(branded_api: Api) -> None:
    """The Outlook: how invoicing and support hours moved (marts.trends of the report's last
    month) and the next three months (marts.forecasts), in the client's words."""
    with branded_api.client() as http:
        client_id, _ = qbr_client(http)
        months = api_rows(http, "client_profitability", client_id=client_id)
        last = months[-1]["month"]
        trends = {
            row["metric"]: row
            for row in api_rows(
                http, "trends", client_id=client_id, entity_type="client",
                month_from=last[:7], month_to=last[:7],
            )
        }  # fmt: skip
        forecasts = api_rows(http, "forecasts", client_id=client_id, sort="forecast_month")
        lines = pdf_lines(get_qbr(http, client_id=client_id, audience="client").content)
    text = " ".join(lines)
    at = lines.index("Outlook")
    label = date.fromisoformat(last).strftime("%b %Y")
    for metric, measure, unit in (("revenue", "Invoicing", ""), ("labor_hours", "Support hours",
                                                                   " h")):  # fmt: skip
        trend = trends[metric]
        start = f"{measure} over the six months to {label}:"
        if trend["direction"] == "stable":
            assert f"{start} steady." in text
        else:
            slope = Decimal(str(trend["slope_6m"]))
            way = "up" if slope > 0 else "down"
            assert f"{start} {way} {money(abs(slope))}{unit} a month on average." in text
    assert len(forecasts) == 6 and {f["status"] for f in forecasts} == {"forecast"}
    by_month: dict[str, dict[str, dict[str, Any]]] = {}
    for row in forecasts:
        by_month.setdefault(row["forecast_month"], {})[row["metric"]] = row
    position = at
    for month, series in sorted(by_month.items()):
        revenue, hours = series["revenue"], series["labor_hours"]
        cells = [
            date.fromisoformat(month).strftime("%b %Y"),
            money(revenue["forecast"]),
            f"{money(revenue['lower_80'])} to {money(revenue['upper_80'])}",
            money(hours["forecast"]),
            f"{money(hours['lower_80'])} to {money(hours['upper_80'])}",
        ]
        position = run_at(lines, cells, position) + 1
    assert not INTERNAL_WORDS.search(text), INTERNAL_WORDS.findall(text)


def test_logo_is_the_configured_image_and_absent_when_unset(
    branded_api: Api, demo_api: Api
) -> None:
    with branded_api.client() as http:
        client_id, _ = qbr_client(http)
        branded = PdfReader(
            io.BytesIO(get_qbr(http, client_id=client_id, audience="client").content)
        )
    with demo_api.client() as http:
        plain = get_qbr(http, client_id=client_id, audience="client").content
    images = [image for page in branded.pages for image in page.images]
    assert len(images) == 1 and images[0].image is not None
    assert images[0].image.size == (240, 80)  # the PNG of branded_api's logo file
    assert images[0].image.getpixel((10, 10)) == (31, 58, 95)
    unbranded = PdfReader(io.BytesIO(plain))
    assert [image for page in unbranded.pages for image in page.images] == []
    lines = pdf_lines(plain)
    assert "Quarterly business review" in lines and not any("Prepared by" in x for x in lines)


def test_internal_version_is_the_default_and_unchanged(demo_api: Api) -> None:
    with demo_api.client() as http:
        client_id, _ = qbr_client(http)
        default = get_qbr(http, client_id=client_id).content
        internal = get_qbr(http, client_id=client_id, audience="internal").content
    masked = [[STAMP.sub("", line) for line in pdf_lines(pdf)] for pdf in (default, internal)]
    assert masked[0] == masked[1]
    text = " ".join(masked[0])
    assert "MoatMetrics - Client profitability" in text and "Gross margin" in text


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"audience": "client"}, "client_id"),
        ({"audience": "client", "client_id": ["C00001", "C00002"]}, "client_id"),
        ({"audience": "client", "client_id": "C00001", "format": "xlsx"}, "format"),
        ({"audience": "everyone", "client_id": "C00001"}, "audience"),
    ],
)
def test_client_qbr_refusals_name_the_parameter(
    demo_api: Api, params: dict[str, Any], parameter: str
) -> None:
    with demo_api.client() as http:
        response = http.get("/api/v1/reports/client-profitability", params=params)
    assert response.status_code == 422, response.text
    assert parameter in response.text


def test_a_bad_logo_setting_is_refused_with_the_fix(tmp_path: Path) -> None:
    too_large = tmp_path / "huge.png"
    too_large.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_LOGO_BYTES)
    svg = tmp_path / "logo.svg"
    svg.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')
    text = tmp_path / "logo.png.txt"
    text.write_text("not an image")
    cases = {
        tmp_path / "missing.png": "no such file",
        tmp_path: "not a file",
        too_large: "export it smaller",
        svg: "export the logo as PNG",
        text: "not a PNG or JPEG image",
    }
    for path, fix in cases.items():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MOATMETRICS_COMPANY_LOGO", str(path))
            with pytest.raises(LogoError, match=re.escape(fix)) as refused:
                get_settings()
        assert "MOATMETRICS_COMPANY_LOGO" in str(refused.value) and str(path) in str(refused.value)
    # The command line says it without a traceback, and the server does not start.
    env = {**os.environ, "MOATMETRICS_HOME": str(tmp_path / "home"),
           "MOATMETRICS_COMPANY_LOGO": str(tmp_path / "missing.png")}  # fmt: skip
    serve = subprocess.run(
        [sys.executable, "-c", "from moatmetrics.cli import main; raise SystemExit(main())",
         "serve"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert serve.returncode == 2, serve.stderr
    assert "MOATMETRICS_COMPANY_LOGO" in serve.stderr and "no such file" in serve.stderr
    assert "Traceback" not in serve.stderr


def test_a_logo_broken_after_startup_gets_a_problem_without_the_path(
    tmp_path: Path, demo_home: BuiltHome
) -> None:
    logo = logo_png(tmp_path / "logo.png")
    env = {"MOATMETRICS_COMPANY_LOGO": str(logo)}
    served = serve(demo_home.settings, demo_home.snapshot_id, tmp_path / "server.log", env)
    api = next(served)
    try:
        with api.client() as http:
            client_id, _ = qbr_client(http)
            get_qbr(http, client_id=client_id, audience="client")
            whole = logo.read_bytes()
            logo.write_bytes(whole[: len(whole) // 2])  # replaced by a truncated copy
            broken = http.get("/api/v1/reports/client-profitability",
                              params={"client_id": client_id, "audience": "client"})  # fmt: skip
            logo.unlink()
            missing = http.get("/api/v1/reports/client-profitability",
                               params={"client_id": client_id, "audience": "client"})  # fmt: skip
            internal = http.get("/api/v1/reports/client-profitability",
                                params={"client_id": client_id})  # fmt: skip
    finally:
        served.close()
    for response, reason in ((broken, "cannot be decoded"), (missing, "no such file")):
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["type"].endswith("company-logo-unusable")
        assert "MOATMETRICS_COMPANY_LOGO" in problem["detail"] and reason in problem["detail"]
        assert str(tmp_path) not in response.text  # server paths stay in the server log
    assert internal.status_code == 200  # the internal reports print no logo
    assert str(logo) in (tmp_path / "server.log").read_text()
