"""The domain tables the generators draw from: places, names, roles, work types, products,
invoice categories and overhead. The "why" of each number sits next to it, so the demo's
shape can be argued with in one place."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Random streams: one per component, so adding draws to one never shifts another.
_S_CLIENTS, _S_STAFF, _S_TIME, _S_INVOICES, _S_LICENSES, _S_EXPENSES, _S_DEFECTS = range(7)

INDUSTRIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "healthcare": (0.16, (
        "Family Dental", "Pediatrics", "Medical Group", "Physical Therapy", "Orthodontics",
        "Eye Care", "Dermatology", "Chiropractic", "Veterinary Clinic", "Urgent Care",
    )),
    "legal": (0.12, (
        "Law Group", "Legal", "Law Offices", "Attorneys", "Legal Services", "Law Partners",
        "Trial Lawyers", "Estate Law", "Immigration Law", "Family Law",
    )),
    "accounting": (0.12, (
        "CPAs", "Accounting", "Tax Advisors", "Bookkeeping", "Financial Group",
        "Wealth Advisors", "Payroll Services", "Audit Partners", "Tax Services", "Advisors",
    )),
    "manufacturing": (0.14, (
        "Manufacturing", "Metalworks", "Plastics", "Fabrication", "Machine Works",
        "Industries", "Precision Parts", "Packaging", "Tool and Die", "Components",
    )),
    "nonprofit": (0.09, (
        "Community Foundation", "Food Bank", "Youth Services", "Arts Council",
        "Animal Rescue", "Housing Alliance", "Literacy Project", "Land Trust",
        "Family Services", "Senior Center",
    )),
    "construction": (0.11, (
        "Builders", "Construction", "Contractors", "Roofing", "Electric", "Plumbing",
        "Homes", "Excavating", "Concrete", "Restoration",
    )),
    "retail": (0.10, (
        "Hardware", "Outfitters", "Furniture", "Boutique", "Garden Center", "Bike Shop",
        "Pharmacy", "Books", "Appliance", "Market",
    )),
    "financial_services": (0.08, (
        "Credit Union", "Insurance Agency", "Mortgage", "Capital", "Investments",
        "Title Company", "Lending", "Financial Planning", "Trust Company", "Brokerage",
    )),
    "education": (0.08, (
        "Academy", "Montessori", "Learning Center", "Prep School", "Charter School",
        "Tutoring", "Day School", "Training Institute", "Early Learning", "Music School",
    )),
}

PLACES = (
    "Harbor", "Summit", "Cedar", "Riverside", "Oakwood", "Lakeview", "Pinecrest", "Maple",
    "Granite", "Willow", "Northside", "Eastgate", "Westfield", "Southport", "Bayshore",
    "Hillcrest", "Meadow", "Stonebridge", "Clearwater", "Fairview", "Brookside", "Redwood",
    "Silver Creek", "Ironwood", "Highland", "Valley", "Prairie", "Canyon", "Coastal",
    "Evergreen", "Sunrise", "Bluewater", "Copper", "Aspen", "Birch", "Cypress", "Elm",
    "Falcon", "Golden", "Heritage", "Juniper", "Keystone", "Liberty", "Magnolia", "Mission",
    "Oak Hill", "Pioneer", "Quarry", "Ridgeline", "Sage", "Timber", "Union", "Vista",
    "Westwood", "Yarrow", "Anchor", "Beacon", "Crescent", "Driftwood", "Ember", "Foxglove",
    "Glacier", "Hawthorne", "Indigo", "Jasper", "Kingsley", "Lighthouse", "Millbrook",
    "Northwind", "Orchard", "Parkside", "Quail Run", "Rosewood", "Sequoia", "Tidewater",
    "Upland", "Vineyard", "Whitestone", "Alder", "Bristol", "Chestnut", "Dover", "Easton",
    "Fulton", "Greenfield", "Hampton", "Irving", "Jefferson", "Kent", "Lincoln", "Madison",
    "Newport", "Oxford", "Preston", "Quincy", "Richmond", "Salem", "Trenton", "Warren",
    "Ashford",
)
NAME_SUFFIXES = ("", " LLC", " Inc", " Co")

FIRST_NAMES = (
    "Alex", "Maria", "James", "Priya", "Daniel", "Sofia", "Michael", "Aisha", "David", "Elena",
    "Chris", "Fatima", "Kevin", "Hannah", "Jose", "Grace", "Ryan", "Mei", "Brandon", "Olivia",
    "Tyler", "Nadia", "Marcus", "Emily", "Luis", "Chloe", "Andre", "Sarah", "Ethan", "Leah",
    "Omar", "Rachel", "Nathan", "Julia", "Samuel", "Zoe", "Victor", "Laura", "Isaac", "Megan",
    "Derek", "Anna", "Jordan", "Rosa", "Kyle", "Tessa", "Brian", "Lina", "Sean", "Carmen",
    "Aaron", "Naomi", "Evan", "Irene", "Colin", "Yuki", "Trevor", "Keisha", "Mason", "Ivy",
)
LAST_NAMES = (
    "Nguyen", "Garcia", "Smith", "Patel", "Johnson", "Kim", "Brown", "Lopez", "Miller",
    "Chen", "Davis", "Martinez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
)

CONTRACT_TYPES = ("managed", "break_fix", "project", "other")
_MANAGED, _BREAK_FIX, _PROJECT, _OTHER = range(4)
CONTRACT_WEIGHTS = (0.62, 0.16, 0.10, 0.12)

# Roles: display name, share of headcount, loaded hourly cost range, billable target,
# share of worked time that is internal, entries per day relative to a tier-2 technician.
ROLES: tuple[tuple[str, float, tuple[float, float], float, float, float], ...] = (
    ("Helpdesk Technician", 0.15, (35.0, 45.0), 0.80, 0.10, 1.6),
    ("Technician I", 0.20, (40.0, 50.0), 0.78, 0.14, 1.25),
    ("Technician II", 0.25, (50.0, 62.0), 0.75, 0.16, 1.0),
    ("Technician III", 0.18, (60.0, 75.0), 0.72, 0.18, 0.85),
    ("Systems Engineer", 0.14, (70.0, 85.0), 0.70, 0.18, 0.55),
    ("vCIO", 0.08, (85.0, 95.0), 0.50, 0.35, 0.45),
)
_HELPDESK, _TECH1, _TECH2, _TECH3, _ENGINEER, _VCIO = range(6)
# The small scale is hand-picked so every role, and the mix above, is present.
SMALL_ROLE_COUNTS = (2, 3, 4, 3, 2, 1)

WORK_TYPES = (
    "remote_support", "onsite", "maintenance", "project", "consulting", "internal",
    "training", "pto", "holiday",
)
_REMOTE, _ONSITE, _MAINT, _PROJ, _CONSULT, _INTERNAL, _TRAINING, _PTO, _HOLIDAY = range(9)
# P(work type | role) for client work, over remote, onsite, maintenance, project, consulting.
ROLE_WORK_MIX = np.array([
    [0.88, 0.02, 0.10, 0.00, 0.00],
    [0.70, 0.14, 0.16, 0.00, 0.00],
    [0.58, 0.18, 0.14, 0.10, 0.00],
    [0.45, 0.16, 0.14, 0.25, 0.00],
    [0.20, 0.12, 0.13, 0.55, 0.00],
    [0.00, 0.05, 0.00, 0.15, 0.80],
])
# ``billable`` means chargeable client time, as PSA tools record it: work covered by a managed
# agreement is billable (it counts toward utilisation) but is paid by the flat fee, not by the
# hour. A few client hours are "no charge" (rework, goodwill) and not billable at all.
NO_CHARGE_P = np.array([0.07, 0.05, 0.04, 0.03, 0.02])
# P(invoiced by the hour | billable, contract type, work type): only these hours carry a
# ``bill_rate`` and appear on labour or project invoice lines.
INVOICED_P = np.array([
    [0.02, 0.30, 0.00, 0.95, 0.00],
    [1.00, 1.00, 1.00, 1.00, 1.00],
    [1.00, 1.00, 1.00, 1.00, 1.00],
    [0.85, 0.90, 0.10, 0.95, 0.50],
])
# Per calendar month (index 0 = January): PTO probability per weekday and how much of the
# contracted day people log (the December dip).
PTO_P = np.array([0.02, 0.02, 0.025, 0.03, 0.03, 0.05, 0.08, 0.08, 0.03, 0.025, 0.03, 0.06])
DAY_FACTOR = np.array([1.02, 1.0, 1.0, 1.0, 1.0, 0.99, 0.97, 0.97, 1.0, 1.01, 0.98, 0.90])
CHRISTMAS_WEEK_PTO_P = 0.30


@dataclass(frozen=True)
class Product:
    """One licence product the MSP resells; amounts in cents."""

    vendor: str
    product: str
    sku: str
    unit_cost: int
    prices: tuple[int, ...]
    basis: str  # users, endpoints or mailboxes
    term_known: bool


PRODUCTS: tuple[Product, ...] = (
    Product("Microsoft", "Microsoft 365 Business Premium", "MS-M365-BP", 1980,
            (2200, 2420, 2640), "users", True),
    Product("Microsoft", "Microsoft 365 Business Standard", "MS-M365-BS", 1125,
            (1250, 1375, 1500), "users", True),
    Product("Microsoft", "Exchange Online (Plan 1)", "MS-EXO-P1", 360,
            (400, 450, 500), "mailboxes", True),
    Product("Microsoft", "Microsoft Defender for Office 365 (Plan 1)", "MS-MDO-P1", 180,
            (200, 250, 300), "users", True),
    Product("Acronis", "Acronis Cyber Protect Cloud Backup", "ACR-CPC-BKP", 450,
            (800, 900, 1000), "endpoints", True),
    Product("SentinelOne", "SentinelOne Singularity Complete", "S1-SING-CMPL", 550,
            (800, 900, 1000), "endpoints", True),
    Product("Huntress", "Huntress Managed EDR", "HUN-MEDR", 300,
            (500, 550, 600), "endpoints", True),
    Product("Datto", "Datto SaaS Protection", "DAT-SAAS-M365", 240,
            (400, 450, 500), "users", True),
    Product("KnowBe4", "KnowBe4 Security Awareness Training", "KB4-SAT-GOLD", 150,
            (300, 350, 400), "users", False),
)
_BP, _BS, _EXO, _MDO, _ACRONIS, _S1, _HUNTRESS, _DATTO, _KB4 = range(len(PRODUCTS))
# P(client has product | contract type) over managed, break_fix, project, other. Business
# Premium vs Standard and SentinelOne vs Huntress are drawn as exclusive pairs.
PRODUCT_P: dict[int, tuple[float, float, float, float]] = {
    _BP: (0.60, 0.25, 0.25, 0.30),
    _BS: (0.30, 0.25, 0.15, 0.20),
    _EXO: (0.20, 0.10, 0.05, 0.10),
    _MDO: (0.15, 0.00, 0.00, 0.05),
    _ACRONIS: (0.80, 0.20, 0.20, 0.90),
    _S1: (0.45, 0.05, 0.00, 0.15),
    _HUNTRESS: (0.40, 0.05, 0.00, 0.15),
    _DATTO: (0.40, 0.05, 0.05, 0.30),
    _KB4: (0.30, 0.00, 0.00, 0.05),
}

HARDWARE: tuple[tuple[str, int], ...] = (
    ("HW-LAPTOP", 129900), ("HW-DESKTOP", 89900), ("HW-FIREWALL", 145000),
    ("HW-SWITCH", 64900), ("HW-DOCK", 22900), ("HW-MONITOR", 27900),
)

# Invoice categories and the skus of lines that are not licences or hardware.
_CAT_RECURRING, _CAT_PROJECT, _CAT_LABOR, _CAT_LICENSE, _CAT_HARDWARE, _CAT_OTHER = range(6)
CATEGORIES = ("recurring", "project", "labor", "license", "hardware", "other")
FIXED_SKUS = ("MSP-MANAGED-USER", "MSP-CARE-PLAN", "LABOR-SUPPORT", "LABOR-PROJECT",
              "CREDIT-SLA", "CREDIT-GOODWILL")

# Overhead per staff member and month (cents): why the MSP's total margin is lower than the
# sum of client margins.
OVERHEAD: tuple[tuple[str, int, float], ...] = (
    ("rent", 42_000, 0.0), ("software", 9_500, 0.03), ("insurance", 4_500, 0.0),
    ("utilities", 6_000, 0.12), ("marketing", 3_000, 0.5), ("training", 2_500, 0.8),
    ("vehicles", 4_000, 0.15),
)
