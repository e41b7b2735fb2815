"""`moatmetrics sources suggest FILE`: a draft profile for a layout no profile knows.

The draft maps each header to the contract column it most likely feeds and says why (an
exact or alias name, a word MSP exports use for it, a similar name); required columns it
cannot place are left empty (`null`) and flagged, so the draft does not load until the user
has filled them. Dates and money layouts are proposed from the sample values.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from pathlib import Path

import yaml

from moatmetrics.contract.entities import ENTITIES, Entity, normalize_header
from moatmetrics.contract.readers import StructuralError
from moatmetrics.sources.detect import FileHead, read_head
from moatmetrics.sources.engine import vendor_format

# Words vendor exports use for a contract column (beyond the contract's own aliases).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "client_key": (
        "customer",
        "client",
        "company",
        "account",
        "contact",
        "customer_name",
        "company_name",
        "client_name",
        "contactname",
        "organization",
    ),
    "staff_id": (
        "member",
        "technician",
        "resource",
        "agent",
        "employee",
        "user",
        "staff",
        "resource_name",
        "member_name",
        "tech",
    ),
    "work_date": ("date", "date_worked", "work_date", "start", "started", "time_start"),
    "hours": ("hours", "hours_worked", "duration", "time_spent", "actual_hours", "time"),
    "billable": ("billable", "is_billable", "bill", "billing"),
    "invoice_id": (
        "invoice",
        "invoice_number",
        "invoice_no",
        "num",
        "number",
        "invoice_#",
        "invoicenumber",
        "doc_number",
    ),
    "invoice_date": ("date", "invoice_date", "transaction_date", "invoicedate"),
    "due_date": ("due", "due_date", "duedate"),
    "amount": ("amount", "total", "line_amount", "lineamount", "extended_price", "net"),
    "quantity": ("qty", "quantity", "units", "seats"),
    "unit_price": ("price", "rate", "unit_price", "sales_price", "unitamount", "unit_amount"),
    "sku": ("item", "product", "product_service", "sku", "item_code", "inventoryitemcode"),
    "ticket_id": ("ticket", "ticket_#", "ticket_number", "ticket_id"),
    "work_type": ("work_type", "type", "activity", "charge_type", "billing_code"),
    "expense_date": ("date", "bill_date", "expense_date"),
    "supplier": ("supplier", "vendor", "payee"),
    "product": ("product", "sku_name", "license", "product_name"),
}
ENTITY_HINTS = ("time_entries", "invoices", "expenses", "license_facts")
_US_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_MONEY_SIGNS = re.compile(r"[$€£]|\d,\d{3}")


def _key(header: str) -> str:
    return normalize_header(header).lstrip("*").replace("/", "_").replace(".", "_")


def _candidates(entity: Entity) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for column in entity.columns:
        words = [column.name, *column.aliases, *SYNONYMS.get(column.name, ())]
        names[column.name] = [normalize_header(w) for w in words]
    if "client_key" in names and "client_id" in names:
        names.pop("client_id")  # vendor files name the client by their own key
    return names


def _guess(header: str, entity: Entity, taken: set[str]) -> tuple[str | None, str]:
    key = _key(header)
    best: tuple[float, str | None, str] = (0.0, None, "")
    for column, words in _candidates(entity).items():
        if column in taken:
            continue
        for word in words:
            if key == word:
                reason = "the contract's name" if word == column else f"'{header}' means {column}"
                return column, f"exact: {reason}"
            ratio = SequenceMatcher(None, key, word).ratio()
            if word in key.split("_") or key in word.split("_"):
                ratio = max(ratio, 0.8)
            if ratio > best[0]:
                best = (ratio, column, f"similar to '{word}' ({ratio:.0%})")
    if best[0] >= 0.75:
        return best[1], best[2]
    return None, ""


def _samples(head: FileHead, index: int, position: int) -> list[str]:
    if head.format == "json":
        key = head.rows[0][position]
        return [r.get(key, "") for r in head.sample if r.get(key)]
    return [r[position] for r in head.rows[index + 1 :] if position < len(r) and r[position]]


def _header_index(head: FileHead) -> int:
    """The first row with the most filled cells (the header below a title block)."""
    if head.format == "json":
        return 0
    widths = [sum(1 for c in row if c.strip()) for row in head.rows]
    widest = max(widths, default=0)
    return next(i for i, w in enumerate(widths) if w == widest) if widths else 0


def suggest_profile(path: Path, entity_name: str | None = None) -> tuple[str, str]:
    """The draft profile's name and YAML text for ``path``."""
    fmt = vendor_format(path)
    if fmt is None:
        raise StructuralError("sources suggest reads .csv and .json files")
    head = read_head(path, fmt)
    index = _header_index(head)
    headers = [h for h in head.headers_at(index)]
    if not any(h.strip() for h in headers):
        raise StructuralError(f"'{path.name}' has no header row to build a profile from")
    scores = {}
    for name in (entity_name,) if entity_name else ENTITY_HINTS:
        entity = ENTITIES[name]
        guessed: set[str] = set()
        hits = 0
        for header in headers:
            column, _ = _guess(header, entity, guessed)
            if column:
                guessed.add(column)
                hits += 1
        scores[name] = hits
    entity = ENTITIES[max(scores, key=lambda n: scores[n])]
    taken: set[str] = set()
    columns: dict[str, object] = {}
    reasons: dict[str, str] = {}
    date_format = None
    money = "plain"
    for position, header in enumerate(headers):
        if not header.strip():
            continue
        column, reason = _guess(header, entity, taken)
        if column is None:
            continue
        taken.add(column)
        samples = _samples(head, index, position)
        spec: object = header.strip()
        contract_type = next((c.type for c in entity.columns if c.name == column), "string")
        if contract_type == "date":
            if samples and all(_US_DATE.match(s.strip()) for s in samples[:20]):
                first = [int(s.split("/")[0]) for s in samples[:20]]
                date_format = "%d/%m/%Y" if max(first) > 12 else "%m/%d/%Y"
                reason += f"; dates like {samples[0]!r}: layout {date_format} (check it)"
            spec = {"from": header.strip(), "as": "date"}
        if contract_type == "decimal" and any(_MONEY_SIGNS.search(s) for s in samples[:20]):
            money = "formatted"
            spec = {"from": header.strip(), "as": "money"}
            reason += "; values carry currency signs or thousands separators"
        columns[column] = spec
        reasons[column] = reason
    if "client_key" in columns:
        columns["client_source"] = None
        reasons["client_source"] = (
            "FILL IN the family of client aliases for client_key, e.g. {value: connectwise}"
        )
    gaps = [
        c.name
        for c in entity.columns
        if c.required
        and c.name not in columns
        and c.name not in ("client_id", "line_no", "entry_id")
    ]
    for gap in gaps:
        columns[gap] = None
        reasons[gap] = "FILL IN: required, no header looked like it"
    name = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "my_source"
    signature = [
        s if isinstance(s, str) else s["from"]
        for s in columns.values()
        if isinstance(s, str) or (isinstance(s, dict) and "from" in s)
    ]
    doc: dict[str, object] = {
        "name": name,
        "version": 1,
        "entity": entity.name,
        "format": fmt,
        "description": f"Draft from {path.name}: check every guess, fill the gaps.",
        "origin": "written by `moatmetrics sources suggest`",
        "header_row": index + 1 if head.format == "csv" and index == 0 else "auto",
        "signature": signature,
    }
    if date_format:
        doc["date_format"] = date_format
    if money != "plain":
        doc["money"] = money
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    lines = ["columns:"]
    for column, spec in columns.items():
        rendered = yaml.safe_dump({column: spec}, default_flow_style=True, width=1000).strip()
        rendered = rendered[1:-1] if rendered.startswith("{") else rendered
        lines.append(f"  {rendered}  # {reasons[column]}")
    unmapped = [h for h in headers if h.strip() and h.strip() not in signature]
    header_lines = [
        f"# Draft source profile for {path.name} (entity {entity.name}).",
        "# Each mapping says why it was guessed. FILL IN the flagged gaps (null values and",
        "# 'FILL IN' texts), then move this file to $MOATMETRICS_HOME/sources/ and ingest again.",
    ]
    if unmapped:
        header_lines.append("# Headers not mapped (never imported): " + ", ".join(unmapped))
    return name, "\n".join(header_lines) + "\n" + text + "\n".join(lines) + "\n"
