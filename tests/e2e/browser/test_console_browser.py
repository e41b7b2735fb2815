"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

Flows a person goes through (sign-in, a review decision, a rejected then corrected upload, a
report download), axe-core on every page (no serious or critical violation allowed), and
screenshots of every page at desktop and phone width in tests/browser/artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from console_home import Console
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from second_factor import next_code
from serving import wait_until

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NARROWEST = 360  # the smallest phone width the console is laid out for
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
AXE = Axe()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed: `apt-get install chromium` (make install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture()
def open_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


def sign_in(page: Page, console: Console, role: str) -> None:
    page.goto(console.url + "/console/sign-in")
    page.get_by_label("API key").fill(console.keys[role])
    page.get_by_role("button", name="Sign in").click()
    if role == "admin":  # admin keys: a code from the authenticator app (enrolled the 1st time)
        expect(page.get_by_role("heading", level=1)).to_have_text("Second factor")
        enrolling = page.locator("#totp-secret").count() > 0
        if enrolling:
            check_page(page, "second-factor-enrol")
            console.totp_secrets[role] = page.locator("#totp-secret").inner_text()
        page.locator("#code").fill(next_code(console.totp_secrets[role]))
        page.get_by_role("button", name=re.compile("sign in", re.I)).click()
        if enrolling:
            expect(page.get_by_role("heading", level=1)).to_have_text("Recovery codes")
            check_page(page, "recovery-codes")
            page.get_by_role("link", name="Continue to the console").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Portfolio overview")


def check_page(page: Page, name: str) -> None:
    """axe-core finds no serious or critical problem; screenshots at desktop and phone width,
    and at phone width the page does not scroll sideways (wide tables scroll in their box)."""
    results = AXE.run(page, options=AXE_OPTIONS)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in bad
    )
    assert not bad, f"{name}: accessibility violations\n{report}"
    page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
    for width in (PHONE["width"], NARROWEST):
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page is {overflow}px wider than a {width}px screen"
    page.set_viewport_size(DESKTOP)


def test_sign_in_and_every_page_is_accessible(console: Console, open_page) -> None:
    page = open_page()
    page.goto(console.url + "/")
    expect(page).to_have_url(console.url + "/console/sign-in?next=/console")
    check_page(page, "sign-in")
    page.get_by_label("API key").fill("mmk_00000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("No key matches")
    check_page(page, "sign-in-refused")
    sign_in(page, console, "admin")
    page.keyboard.press("Tab")  # keyboard users meet the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    expect(page.locator("svg[role=img]").first).to_be_visible()
    check_page(page, "overview")

    page.get_by_role("link", name="Insights", exact=True).click()
    expect(page.get_by_role("heading", name="What to do first")).to_be_visible()
    check_page(page, "insights")

    page.get_by_role("link", name="What if", exact=True).click()
    page.get_by_label("Reclaim", exact=True).check()
    page.get_by_label("Bill", exact=True).check()
    page.get_by_role("button", name="Show the scenario").click()
    expect(page.get_by_role("heading", name="The scenario in", exact=False)).to_be_visible()
    check_page(page, "what-if")

    page.get_by_role("link", name="Clients", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    check_page(page, "clients")
    page.locator("table tbody th a").first.click()
    expect(page.get_by_role("heading", name="Churn risk")).to_be_visible()
    expect(page.get_by_role("heading", name="Monthly profitability")).to_be_visible()
    expect(page.get_by_role("heading", name="What to do")).to_be_visible()
    check_page(page, "client")

    page.get_by_role("link", name="Reviews", exact=True).click()
    check_page(page, "reviews")
    page.locator("table tbody th a").first.click()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    check_page(page, "review-item")

    page.get_by_role("link", name="Uploads", exact=True).click()
    check_page(page, "uploads")
    page.locator("table tbody th a").first.click()
    expect(page.get_by_role("heading", name="Problems", exact=False)).to_be_visible()
    check_page(page, "upload")

    page.get_by_role("link", name="Reports", exact=True).click()
    check_page(page, "reports")
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("Action starts with").fill("console.")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table tbody tr").first).to_contain_text("console.")
    check_page(page, "audit")
    with page.expect_download() as exported:
        page.get_by_role("link", name="CSV").click()
    assert Path(exported.value.path()).read_text().startswith("seq,")


def test_viewer_has_no_review_actions_or_audit_page(console: Console, open_page) -> None:
    page = open_page()
    sign_in(page, console, "viewer")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    expect(nav.get_by_role("link", name="Reviews")).to_have_count(0)
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    response = page.goto(console.url + "/console/audit")
    assert response is not None and response.status == 403
    check_page(page, "viewer-audit-refused")
    page.goto(console.url + "/console/uploads")
    expect(page.locator("input[type=file]")).to_have_count(0)


def test_analyst_approves_a_review_item(console: Console, open_page) -> None:
    page = open_page()
    sign_in(page, console, "analyst")
    page.get_by_role("link", name="Reviews", exact=True).click()
    page.get_by_label("Status").select_option("open")
    page.get_by_role("button", name="Filter").click()
    link = page.locator("table tbody th a").first
    item_id = int(link.inner_text().lstrip("#"))
    link.click()
    page.get_by_role("button", name="Reject").click()  # a rejection needs a comment
    expect(page.get_by_role("alert")).to_contain_text("needs a comment")
    page.get_by_label("Comment").focus()  # the decision by keyboard alone
    page.keyboard.type("checked against the signed agreement")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Approve"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("approved")
    expect(page.locator(".history")).to_contain_text("checked against the signed agreement")
    with console.api("analyst") as api:
        item = api.get(f"/api/v1/reviews/{item_id}").json()
    assert item["status"] == "approved"
    assert item["decisions"][-1]["decided_by"] == "console-analyst"
    assert item["decisions"][-1]["comment"] == "checked against the signed agreement"
    with console.api("admin") as api:
        entries = api.get(
            "/api/v1/audit", params={"action": "reviews.decide", "target": f"reviews/{item_id}"}
        ).json()["entries"]
    # Newest first: the approval, and before it the rejection refused for want of a comment.
    assert [(e["actor"], e["outcome"], e["status"]) for e in entries] == [
        ("console-analyst", "approved", None),
        ("console-analyst", "refused", 422),
    ]


BAD_CLIENTS = (
    "client_id,client_name,status\nC90001,Harbor Dental,active\nC90002,Pine Legal,on_hold\n"
)
GOOD_CLIENTS = BAD_CLIENTS.replace("on_hold", "active")


def _upload(page: Page, name: str, content: str, *, drop: bool = False) -> None:
    page.get_by_role("link", name="Uploads", exact=True).click()
    if drop:  # dropped on the drop zone, as from a file manager
        files = page.evaluate_handle(
            """([name, text]) => {
                const data = new DataTransfer();
                data.items.add(new File([text], name, {type: "text/csv"}));
                return data;
            }""",
            [name, content],
        )
        page.dispatch_event(".dropzone", "drop", {"dataTransfer": files})
        assert page.eval_on_selector("#file", "input => input.files[0].name") == name
    else:
        page.get_by_label("File (").set_input_files(
            {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
        )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def _shown(page: Page, selector: str) -> bool:
    """Whether the element is on the page now (False while the page is reloading itself)."""
    try:
        return page.locator(selector).is_visible()
    except PlaywrightError:
        return False


def test_upload_rejected_then_corrected(console: Console, open_page) -> None:
    page = open_page()
    sign_in(page, console, "analyst")
    _upload(page, "clients_new.csv", BAD_CLIENTS)
    # The page refreshes itself until the pipeline run has judged the file (however long the
    # run takes: the test's timeout bounds the wait, not a deadline of its own).
    wait_until(lambda: _shown(page, "[data-upload-status=rejected]"), step=1)
    problems = page.locator("table.problems tbody tr")
    expect(problems.first).to_contain_text("status")
    first = problems.first.locator("th, td").all_inner_texts()
    assert first[0].strip() == "3" and first[1] == "status" and first[4], first  # row, col, fix
    check_page(page, "upload-rejected")

    _upload(page, "clients_new.csv", GOOD_CLIENTS, drop=True)
    wait_until(lambda: _shown(page, "[data-upload-status=accepted]"), step=1)

    def published() -> bool:  # the run after the corrected upload published (test timeout bounds)
        if "published in snapshot" in page.locator("dl.facts").inner_text():
            return True
        page.reload()
        return False

    wait_until(published, step=2)
    facts = page.locator("dl.facts").inner_text()
    assert "Quality score\n100 %" in facts and "2 read, 2 loaded, 0 rejected" in facts, facts
    assert "Read as\ncanonical" in facts, facts
    check_page(page, "upload-accepted")
    with console.api("viewer") as api:
        clients = api.get(
            "/api/v1/marts/client_risk", params={"client_id": ["C90001", "C90002"]}
        ).json()
    assert clients["snapshot_id"] in page.locator("dl.facts").inner_text()


def test_report_download(console: Console, open_page) -> None:
    page = open_page()
    sign_in(page, console, "viewer")
    page.locator("table tbody th a").first.click()  # the least profitable client
    with page.expect_download() as pdf:
        page.get_by_role("button", name="Download report").click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    assert pdf.value.suggested_filename.endswith(".pdf")
    # The client's QBR of the same client (no margins or costs): the client page's form.
    page.get_by_label("Audience").select_option("client")
    check_page(page, "client-qbr-form")
    with page.expect_download() as qbr:
        page.get_by_role("button", name="Download report").click()
    assert Path(qbr.value.path()).read_bytes().startswith(b"%PDF")
    assert qbr.value.suggested_filename.startswith("client-qbr-")
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_label("Audience").select_option("client")
    page.get_by_label("Client id (empty: all clients)").fill("C00001")
    check_page(page, "reports-client-qbr")
    with page.expect_download() as qbr:
        page.get_by_role("button", name="Download report").click()
    assert qbr.value.suggested_filename.startswith("client-qbr-")
    qbr.value.save_as(ARTIFACTS / "client-qbr.pdf")  # both versions, to look at
    pdf.value.save_as(ARTIFACTS / "client-internal.pdf")
    for name in ("client-qbr", "client-internal"):
        pdf_screenshots(ARTIFACTS / f"{name}.pdf")
    page.get_by_label("Client id (empty: all clients)").fill("")
    page.get_by_label("Audience").select_option("internal")
    page.get_by_label("Report", exact=True).select_option("license-savings")
    page.get_by_label("Format").select_option("xlsx")
    with page.expect_download() as xlsx:
        page.get_by_role("button", name="Download report").click()
    assert Path(xlsx.value.path()).read_bytes().startswith(b"PK")


def test_month_picker_heatmap_and_client_sorting(console: Console, open_page) -> None:
    """The month picker works without script (a GET form), the overview's lists and margin
    heatmap pass axe at desktop and phone width (screenshots of the page and the heatmap), and
    the client list sorts by a column heading and searches."""
    page = open_page()
    sign_in(page, console, "viewer")
    picker = page.get_by_label("Month", exact=True)
    options = picker.locator("option")
    assert options.count() >= 12
    earlier = options.nth(1).get_attribute("value")
    picker.select_option(earlier)
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(f"{console.url}/console?month={earlier}")
    expect(picker).to_have_value(earlier or "")
    for title in ("Losing money", "Probably missing data", "Healthy"):
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    heatmap = page.locator("table.heatmap")
    expect(heatmap).to_be_visible()
    check_page(page, "overview-month")
    heatmap.screenshot(path=ARTIFACTS / "heatmap-desktop.png")
    page.set_viewport_size(PHONE)
    heatmap.screenshot(path=ARTIFACTS / "heatmap-phone.png")
    page.set_viewport_size(DESKTOP)

    page.goto(console.url + "/console/clients")
    page.get_by_role("link", name="Revenue", exact=True).click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    revenues = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    amounts = [float(text.replace("$", "").replace(",", "")) for text in revenues]
    assert amounts == sorted(amounts, reverse=True)
    first = page.locator("tbody th a").first.inner_text()
    page.get_by_label("Client name or id").fill(first)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody th a").first).to_have_text(first)
    assert "sort=-revenue" in page.url and "q=" in page.url
    check_page(page, "clients-sorted")


def test_a_correction_is_refused_made_and_reverted(console: Console, open_page) -> None:
    """The Corrections page: a bad value is refused with the column, value and fix; a good
    correction is listed (and audited) until it is reverted. No run: the marts stay as they
    are for the other tests."""
    page = open_page()
    sign_in(page, console, "analyst")
    page.get_by_role("link", name="Corrections", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Corrections")
    check_page(page, "corrections")
    page.get_by_label("Input").select_option("time_entries")
    page.get_by_label("Row key").fill("entry_id=TE-BROWSER-1")
    page.get_by_label("Set a column to a new value").check()
    page.get_by_label("Column (to set)").fill("hours")
    page.get_by_role("textbox", name="New value").fill("25")
    page.get_by_label("Reason").fill("The ticket says otherwise")
    page.get_by_role("button", name="Add correction").click()
    expect(page.get_by_role("alert")).to_have_text(
        "time_entries column hours: value '25' is out of range; fix: give a value above 0 and"
        " at most 24"
    )
    check_page(page, "corrections-refused")
    page.get_by_role("textbox", name="New value").fill("2.5")  # the rest of the form was kept
    page.get_by_role("button", name="Add correction").click()
    expect(page.get_by_role("status")).to_contain_text("applies from the next pipeline run")
    row = page.locator("tbody tr", has_text="TE-BROWSER-1")
    expect(row).to_contain_text("set hours = 2.5")
    row.get_by_role("button", name="Revert").click()
    expect(page.get_by_role("status")).to_contain_text("reverted")
    expect(page.locator("tbody tr", has_text="TE-BROWSER-1")).to_have_count(0)
    with console.api("admin") as api:
        entries = api.get("/api/v1/audit", params={"action": "corrections."}).json()["entries"]
    done = {(e["action"], e["actor"]) for e in entries if e["status"] is None}
    assert {
        ("corrections.create", "console-analyst"),
        ("corrections.revert", "console-analyst"),
    } <= done


def test_staff_page_and_the_two_review_queues(console: Console, open_page) -> None:
    page = open_page()
    sign_in(page, console, "analyst")
    page.get_by_role("link", name="Staff", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff")
    expect(page.locator("#staff-summary")).to_contain_text("overloaded")
    check_page(page, "staff")
    page.get_by_label("Show").select_option("overloaded")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("table.staff tbody tr")
    expect(rows.first).to_contain_text("% of capacity")
    assert rows.count() == page.locator("table.staff tbody tr.overloaded").count() > 0
    rows.first.locator("th a").click()
    expect(page.get_by_role("heading", name="Capacity by month")).to_be_visible()
    expect(page.locator("svg[role=img]").first).to_be_visible()
    check_page(page, "staff-member")

    page.get_by_role("link", name="Reviews", exact=True).click()
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="Unusual month").click()
    expect(page.locator("td.why").first).to_contain_text("Unusual month")
    check_page(page, "reviews-unusual-month")
    boxes = page.locator("input[name=item]")
    picked = [boxes.nth(i).get_attribute("value").split(":")[0] for i in range(2)]
    for i in range(2):
        boxes.nth(i).check()
    page.get_by_label("Comment for every ticked item").fill("seasonal project, confirmed")
    page.get_by_role("button", name="Approve ticked").click()
    expect(page.get_by_role("status")).to_contain_text("2 items approved")
    with console.api("analyst") as api:
        for item_id in picked:
            item = api.get(f"/api/v1/reviews/{item_id}").json()
            assert item["status"] == "approved"
            assert item["decisions"][-1]["comment"] == "seasonal project, confirmed"
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="Doubtful data").click()
    check_page(page, "reviews-doubtful-data")
    page.locator("table tbody th a").first.click()
    expect(page.get_by_role("heading", name="What your decision does")).to_be_visible()
    expect(page.locator(".lead")).to_contain_text("Doubtful data")
    check_page(page, "review-item-doubtful")


def pdf_screenshots(path: Path) -> None:
    """The report's first page as the desktop and phone widths show it (PDFium renders it; a
    headless browser has no PDF viewer): `<name>-desktop.png`, `<name>-phone.png`."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        first = document[0]
        assert first.get_textpage().get_text_range().strip()  # a page with words on it
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            image = first.render(scale=size["width"] / first.get_width()).to_pil()
            assert image.width == size["width"]
            image.save(path.with_name(f"{path.stem}-{label}.png"))
    finally:
        document.close()
