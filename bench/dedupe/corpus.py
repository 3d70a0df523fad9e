"""A labelled corpus for the near-duplicate benchmark: generated technology and
policy stories syndicated across sources, hard negatives, and real-world feed
entries from ``tests/data/corpus/``.

Deterministic: the same seed gives the same entries, in the same order. Each
entry carries a label (its story id); two entries are the same story exactly
when their labels are equal.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.parse.adapter import parse_document
from feeds.stories.dedupe import entry_id, url_identity
from feeds.stories.normalize import Context, content_hash, normalize
from feeds.types import Document, Entry, Person, Source

REPO = Path(__file__).resolve().parents[2]
REAL_CORPUS = REPO / "tests" / "data" / "corpus"
START = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    label: str  # the story: equal labels are the same story
    kind: str  # syndicated, single, series, column, template, follow-up, real
    entry_id: str
    entry: Entry
    reworded: bool = False  # a copy whose headline the source rewrote (``reword``)


# --- vocabulary --------------------------------------------------------------------------------

COMPANIES = (
    "OpenAI",
    "Anthropic",
    "Google",
    "Alphabet",
    "Microsoft",
    "Apple",
    "Meta",
    "Amazon",
    "Nvidia",
    "Intel",
    "AMD",
    "TSMC",
    "Samsung",
    "Qualcomm",
    "Arm",
    "Huawei",
    "ByteDance",
    "TikTok",
    "Tencent",
    "Alibaba",
    "Baidu",
    "Xiaomi",
    "Sony",
    "IBM",
    "Oracle",
    "Salesforce",
    "Cisco",
    "Broadcom",
    "Micron",
    "SK Hynix",
    "ASML",
    "Mistral AI",
    "Cohere",
    "Hugging Face",
    "Stability AI",
    "xAI",
    "Tesla",
    "SpaceX",
    "Netflix",
    "Spotify",
    "Uber",
    "Airbnb",
    "Palantir",
    "Snowflake",
    "Databricks",
    "Cloudflare",
    "CrowdStrike",
    "Palo Alto Networks",
    "Okta",
    "Zoom",
    "Dropbox",
    "GitHub",
    "GitLab",
    "Mozilla",
    "Proton",
    "Telegram",
    "Reddit",
    "Discord",
    "Pinterest",
    "Snap",
    "LinkedIn",
    "Ericsson",
    "Nokia",
    "Vodafone",
    "Deutsche Telekom",
    "Orange",
    "Verizon",
    "AT&T",
    "T-Mobile",
    "Comcast",
    "BT",
    "Telefonica",
    "Rakuten",
    "Infineon",
    "STMicroelectronics",
    "NXP",
    "Cerebras",
    "Groq",
    "Scale AI",
    "Perplexity",
    "Midjourney",
    "Runway",
    "DeepMind",
    "DeepSeek",
    "Zhipu AI",
    "Moonshot AI",
    "Shopify",
    "Stripe",
    "Klarna",
    "Revolut",
    "Adyen",
    "SAP",
    "Siemens",
    "Philips",
    "Lenovo",
    "Dell",
    "HP",
    "Fujitsu",
    "NEC",
    "Kakao",
    "Naver",
    "Grab",
    "Sea",
    "MercadoLibre",
    "Infosys",
    "Wipro",
    "Reliance Jio",
)
STARTUPS = (
    "Lumina Labs",
    "Quantia",
    "Tessellate",
    "Northwind Robotics",
    "Parallax Bio",
    "Skyforge",
    "Veritas Compute",
    "Halcyon Energy",
    "Brightline Health",
    "Ferrous",
    "Kestrel Security",
    "Mosaic ML",
    "Arbiter Legal",
    "Fathom Analytics",
    "Greyhound Logistics",
    "Inkwell",
    "Juniper Quantum",
    "Ledgerly",
    "Meridian Chips",
    "Nimbus Data",
    "Orbital Farms",
    "Pinecrest AI",
    "Quillpad",
    "Redwood Fusion",
    "Sable Networks",
    "Tidal Vision",
    "Umbra Privacy",
    "Vanta Grid",
    "Wren Voice",
    "Zenith Drones",
    "Cobalt Mobility",
    "Ember Semiconductors",
    "Atlas Sensing",
    "Basalt Cloud",
)
PRODUCT_NAMES = (
    "Orion",
    "Atlas",
    "Nova",
    "Falcon",
    "Aurora",
    "Titan",
    "Helix",
    "Vega",
    "Lumen",
    "Pulse",
    "Quasar",
    "Zephyr",
    "Nimbus",
    "Sentinel",
    "Horizon",
    "Apex",
    "Echo",
    "Pioneer",
    "Summit",
    "Vertex",
    "Cascade",
    "Beacon",
    "Mercury",
    "Polaris",
    "Spectra",
    "Strata",
    "Tempest",
    "Ion",
    "Mirage",
    "Onyx",
)
PRODUCT_KINDS = (
    "chip",
    "AI model",
    "smartphone",
    "headset",
    "laptop",
    "assistant",
    "browser",
    "cloud service",
    "satellite service",
    "router",
    "smartwatch",
    "coding agent",
    "search engine",
    "accelerator",
    "operating system",
    "video model",
    "translation app",
    "security suite",
    "payments app",
    "robot",
)
FEATURES = (
    "on-device AI",
    "a longer battery life",
    "end-to-end encryption",
    "real-time translation",
    "faster inference",
    "a larger context window",
    "satellite messaging",
    "lower prices",
    "better reasoning",
    "voice control",
    "offline mode",
    "stronger privacy controls",
    "support for 40 languages",
    "a new camera system",
    "agent features",
    "enterprise controls",
)
REGULATORS = (
    ("FCC", "the Federal Communications Commission"),
    ("FTC", "the Federal Trade Commission"),
    ("SEC", "the Securities and Exchange Commission"),
    ("DOJ", "the Justice Department"),
    ("European Commission", "the European Commission"),
    ("Ofcom", "Britain's communications regulator"),
    ("CMA", "Britain's Competition and Markets Authority"),
    ("ICO", "Britain's Information Commissioner"),
    ("CNIL", "France's data protection authority"),
    ("Bundeskartellamt", "Germany's cartel office"),
    ("ACCC", "Australia's competition watchdog"),
    ("Irish DPC", "Ireland's Data Protection Commission"),
    ("Garante", "Italy's privacy watchdog"),
    ("KFTC", "South Korea's Fair Trade Commission"),
    ("CCI", "the Competition Commission of India"),
    ("CADE", "Brazil's antitrust authority"),
    ("Arcep", "France's telecoms regulator"),
    ("AGCM", "Italy's competition authority"),
    ("eSafety Commissioner", "Australia's online safety regulator"),
    ("JFTC", "Japan's Fair Trade Commission"),
    ("Competition Bureau", "Canada's Competition Bureau"),
    ("Dutch DPA", "the Dutch data protection authority"),
    ("AEPD", "Spain's data protection agency"),
    ("BNetzA", "Germany's network agency"),
)
COUNTRIES = (
    "France",
    "Germany",
    "Italy",
    "Spain",
    "Poland",
    "the Netherlands",
    "Sweden",
    "Denmark",
    "Norway",
    "Finland",
    "Ireland",
    "Britain",
    "Canada",
    "Mexico",
    "Brazil",
    "Argentina",
    "Chile",
    "India",
    "Indonesia",
    "Vietnam",
    "Thailand",
    "Malaysia",
    "Singapore",
    "the Philippines",
    "Japan",
    "South Korea",
    "Taiwan",
    "Australia",
    "New Zealand",
    "South Africa",
    "Nigeria",
    "Kenya",
    "Egypt",
    "Turkey",
    "Saudi Arabia",
    "the UAE",
    "Israel",
    "Estonia",
    "Portugal",
    "Belgium",
    "Austria",
    "Switzerland",
    "Czechia",
    "Romania",
    "Greece",
    "Colombia",
    "Peru",
    "Pakistan",
    "Bangladesh",
)
PLACES = (
    "Ohio",
    "Arizona",
    "Texas",
    "Virginia",
    "Oregon",
    "Georgia",
    "Wisconsin",
    "Indiana",
    "Iowa",
    "Dublin",
    "Frankfurt",
    "Milan",
    "Madrid",
    "Warsaw",
    "Stockholm",
    "Helsinki",
    "Amsterdam",
    "Paris",
    "Johor",
    "Osaka",
    "Hyderabad",
    "Chennai",
    "Jakarta",
    "Sao Paulo",
    "Queretaro",
    "Santiago",
    "Melbourne",
    "Cape Town",
    "Nairobi",
    "Abu Dhabi",
    "Riyadh",
    "Tel Aviv",
    "Zurich",
    "Lisbon",
)
ISSUES = (
    ("tracking without consent", "tracked users across websites without valid consent"),
    ("children's data", "processed children's personal data unlawfully"),
    ("app store rules", "used its app store rules to block cheaper payment options"),
    ("misleading subscriptions", "made subscriptions hard to cancel"),
    ("data transfers", "moved European users' data to servers abroad without safeguards"),
    ("self-preferencing", "ranked its own services above rivals' in search results"),
    ("ad targeting", "targeted advertising at minors using sensitive data"),
    ("facial recognition", "collected facial images without a legal basis"),
    ("dark patterns", "used design tricks that pushed users into sharing data"),
    ("news licensing", "failed to negotiate fairly with news publishers"),
    ("cookie banners", "made refusing cookies harder than accepting them"),
    ("security failings", "left customer records exposed because of weak security"),
    ("price collusion", "coordinated prices with competitors"),
    ("illegal content", "failed to remove illegal content quickly enough"),
)
REASONS = (
    "demand for its devices slows",
    "it shifts spending to artificial intelligence",
    "advertising revenue falls",
    "it restructures its cloud division",
    "costs rise",
    "sales in China weaken",
    "it closes its metaverse unit",
    "investors push for higher margins",
    "it automates customer support",
    "a hiring spree reverses",
)
DIVISIONS = ("cloud", "devices", "gaming", "advertising", "recruiting", "hardware", "research", "sales")
DATA_KINDS = (
    "names and email addresses",
    "passport scans",
    "payment card details",
    "phone numbers",
    "home addresses",
    "medical records",
    "login credentials",
    "call logs",
)
VECTORS = (
    "a compromised contractor account",
    "a misconfigured cloud bucket",
    "a phishing campaign",
    "an unpatched VPN appliance",
    "a stolen access token",
    "a third-party analytics tool",
)
REQUIREMENTS = (
    ("age checks for social media", "social media"),
    ("platforms to pay for news", "news"),
    ("labels on AI-generated images", "AI"),
    ("backdoors in encrypted messaging", "encryption"),
    ("data centres to report energy use", "energy"),
    ("repairable smartphones", "right-to-repair"),
    ("local storage of citizens' data", "data"),
    ("licences for AI model developers", "AI"),
    ("a ban on phones in schools", "schools"),
    ("gig platforms to employ drivers", "gig work"),
    ("disclosure of ransomware payments", "cyber"),
    ("open access to rural broadband", "broadband"),
)
APPS = (
    "TikTok",
    "WeChat",
    "Telegram",
    "DeepSeek",
    "Kaspersky antivirus",
    "CapCut",
    "Temu",
    "Shein",
    "Signal",
    "WhatsApp",
    "Zoom",
    "Lemon8",
)
DRIVERS = (
    "AI server",
    "cloud",
    "data centre",
    "smartphone",
    "advertising",
    "subscription",
    "gaming",
    "memory chip",
    "enterprise software",
    "networking",
)
EXPORT_THINGS = (
    "advanced AI chips",
    "chipmaking equipment",
    "high-bandwidth memory",
    "lithography machines",
    "AI model weights",
    "quantum computing components",
    "rare earth magnets",
    "gallium and germanium",
)
SERVICES = (
    "Gmail",
    "Outlook",
    "Microsoft Teams",
    "AWS",
    "Azure",
    "Google Cloud",
    "Slack",
    "Zoom",
    "Instagram",
    "WhatsApp",
    "Facebook",
    "YouTube",
    "Netflix",
    "Spotify",
    "Discord",
    "iCloud",
    "PlayStation Network",
    "Xbox Live",
    "Starlink",
    "ChatGPT",
    "GitHub",
    "Cloudflare",
    "X",
)
CAUSES = (
    "a faulty configuration change",
    "a power failure at a data centre",
    "a DNS error",
    "a software update",
    "a cut undersea cable",
    "a denial-of-service attack",
)
REGIONS = (
    "Europe",
    "North America",
    "Asia",
    "Latin America",
    "Africa",
    "the Middle East",
    "Australia",
    "India",
    "Japan",
    "the US east coast",
)
FIRST = (
    "Maria",
    "James",
    "Aiko",
    "Lars",
    "Priya",
    "Chen",
    "Fatima",
    "Diego",
    "Olga",
    "Kwame",
    "Sofia",
    "Rahul",
    "Hannah",
    "Tomasz",
    "Leila",
    "Marco",
    "Yuki",
    "Amara",
    "Erik",
    "Nadia",
)
LAST = (
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Moreau",
    "Kowalski",
    "Haddad",
    "Fernandes",
    "Novak",
    "Iyer",
    "Schmidt",
    "Mensah",
    "Rossi",
    "Park",
    "Alvarez",
    "Petrov",
    "Nakamura",
    "Brennan",
    "Osei",
)
ROLES = (
    "chief executive",
    "chief technology officer",
    "head of AI",
    "chief financial officer",
    "president",
    "chief security officer",
    "head of policy",
    "chief product officer",
)
COURTS = (
    "A US federal judge",
    "The EU General Court",
    "Britain's Court of Appeal",
    "India's Supreme Court",
    "A Dutch court",
    "Germany's Federal Court of Justice",
    "Brazil's Supreme Court",
    "A California jury",
    "The Court of Justice of the EU",
)
RULINGS = (
    ("open its app store to rival payment systems", "app store"),
    ("pay damages to news publishers", "news"),
    ("stop collecting location data", "privacy"),
    ("hand over training data to authors", "copyright"),
    ("restore suspended accounts", "moderation"),
    ("face an antitrust trial", "antitrust"),
    ("delete unlawfully collected biometric data", "biometrics"),
)
BENCHMARKS = ("SWE-bench", "MMLU", "ARC-AGI", "GPQA", "HumanEval", "MATH", "Humanity's Last Exam")
BANDS = ("5G", "3.5 GHz", "700 MHz", "mmWave", "26 GHz", "6 GHz", "C-band")
INVESTORS = (
    "Sequoia",
    "Andreessen Horowitz",
    "SoftBank",
    "Tiger Global",
    "Index Ventures",
    "Accel",
    "Lightspeed",
    "General Catalyst",
    "Thrive Capital",
    "Nvidia",
    "Microsoft",
)
CONTEXT = (
    "The move comes as regulators on both sides of the Atlantic step up scrutiny of big technology firms.",
    "Analysts said the decision could set a precedent for the rest of the industry.",
    "Shares were little changed in early trading.",
    "The company did not respond to a request for comment.",
    "Critics have long argued that existing rules are not enough.",
    "Industry groups warned that the costs would fall on consumers.",
    "It is the latest sign of a wider slowdown across the sector.",
    "Competition for AI talent and computing power has intensified this year.",
    "Digital rights groups welcomed the step but said more was needed.",
    "The announcement was made at an event attended by investors and partners.",
    "Lawmakers are expected to debate related proposals next month.",
    "Demand for data centre capacity has surged since the start of the year.",
)
SITES = (
    "wire.example.com",
    "technews.example.org",
    "policyweekly.example.net",
    "chipdaily.example.com",
    "netpolicy.example.org",
    "aiinsider.example.com",
    "telecomsnow.example.net",
    "secbeat.example.com",
    "theregister.example.co.uk",
    "heise.example.de",
    "lemonde.example.fr",
    "asiatech.example.sg",
    "startupwire.example.com",
    "marketscreen.example.com",
    "govtech.example.gov",
    "digitalrights.example.org",
    "cloudtimes.example.io",
    "gadgetlab.example.com",
    "finwire.example.com",
    "latamtech.example.br",
    "indiatech.example.in",
    "nordictech.example.se",
    "brusselsbrief.example.eu",
    "tokyodigital.example.jp",
    "africatech.example.ng",
    "devops.example.dev",
    "privacyreport.example.org",
    "chipwar.example.com",
    "ainow.example.ai",
    "broadbandtoday.example.com",
    "opensourcenews.example.org",
    "biztech.example.com",
)
SOURCES = tuple(s.split(".")[0] for s in SITES)


# --- story families ------------------------------------------------------------------------------

Slots = dict[str, str]


@dataclass(frozen=True)
class Family:
    name: str
    slots: Callable[[random.Random], Slots]
    titles: tuple[str, ...]  # phrasings; a story keeps one for all its copies
    body: tuple[str, ...]  # summary sentences; the first ones always come
    followups: tuple[tuple[str, tuple[str, ...]], ...]  # (title, body) of stories that come later
    vary: tuple[str, ...]  # slots whose change makes another story from the same template


def _money(rng: random.Random) -> str:
    unit = rng.choice(("million", "billion"))
    amount = rng.choice(
        (
            1.2,
            1.5,
            2,
            2.4,
            3,
            4.3,
            5,
            7.5,
            10,
            12,
            15,
            20,
            25,
            40,
            50,
            75,
            90,
            120,
            150,
            200,
            250,
            300,
            345,
            400,
            500,
            650,
            800,
        )
    )
    if unit == "billion":
        amount = rng.choice((1.1, 1.5, 1.8, 2.4, 3.2, 4, 6.5, 8, 10, 13, 19, 26, 40, 69))
    cur = rng.choice(("$", "$", "€", "£"))
    return f"{cur}{amount:g} {unit}"


def _count(rng: random.Random) -> str:
    n = rng.choice(
        (
            120,
            250,
            400,
            600,
            850,
            1000,
            1200,
            1500,
            1800,
            2000,
            2500,
            3000,
            4000,
            5000,
            6000,
            8000,
            10000,
            12000,
            14000,
            15000,
            18000,
            20000,
        )
    )
    return f"{n:,}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _product(rng: random.Random, company: str) -> tuple[str, str]:
    name = (
        f"{rng.choice(PRODUCT_NAMES)} {rng.choice(('2', '3', '4', '5', 'X', 'Pro', 'Max', 'Ultra', 'Mini'))}"
    )
    return name, rng.choice(PRODUCT_KINDS)


def _company_pair(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(COMPANIES, 2)
    return a, b


def _s_fine(r: random.Random) -> Slots:
    reg, reg_long = r.choice(REGULATORS)
    issue, issue_long = r.choice(ISSUES)
    return {
        "reg": reg,
        "reg_long": reg_long,
        "co": r.choice(COMPANIES),
        "money": _money(r),
        "issue": issue,
        "issue_long": issue_long,
        "days": str(r.choice((30, 60, 90, 180))),
        "ctx": r.choice(CONTEXT),
        "country": r.choice(COUNTRIES),
    }


def _s_launch(r: random.Random) -> Slots:
    co = r.choice(COMPANIES)
    product, kind = _product(r, co)
    return {
        "co": co,
        "product": product,
        "kind": kind,
        "feature": r.choice(FEATURES),
        "country": r.choice(COUNTRIES),
        "price": f"${r.choice((199, 299, 499, 799, 999, 1299))}",
        "month": r.choice(("January", "March", "April", "June", "September", "October")),
        "ctx": r.choice(CONTEXT),
        "person": _person(r),
    }


def _s_layoffs(r: random.Random) -> Slots:
    return {
        "co": r.choice(COMPANIES),
        "n": _count(r),
        "reason": r.choice(REASONS),
        "division": r.choice(DIVISIONS),
        "pct": str(r.choice((3, 5, 6, 8, 10, 12, 15))),
        "place": r.choice(PLACES),
        "ctx": r.choice(CONTEXT),
        "person": _person(r),
    }


def _s_acq(r: random.Random) -> Slots:
    co = r.choice(COMPANIES)
    reg, _ = r.choice(REGULATORS)
    return {
        "co": co,
        "co2": r.choice(STARTUPS),
        "money": _money(r),
        "reg": reg,
        "field": r.choice(
            (
                "cybersecurity",
                "chip design",
                "AI safety",
                "robotics",
                "data analytics",
                "voice recognition",
                "cloud gaming",
                "satellite imaging",
            )
        ),
        "ctx": r.choice(CONTEXT),
    }


def _s_probe(r: random.Random) -> Slots:
    reg, reg_long = r.choice(REGULATORS)
    issue, issue_long = r.choice(ISSUES)
    issue2, _ = r.choice(ISSUES)
    return {
        "reg": reg,
        "reg_long": reg_long,
        "co": r.choice(COMPANIES),
        "issue": issue,
        "issue_long": issue_long,
        "issue2": issue2,
        "ctx": r.choice(CONTEXT),
    }


def _s_breach(r: random.Random) -> Slots:
    return {
        "co": r.choice(COMPANIES),
        "n": f"{r.choice((1.2, 3, 4.5, 6, 9, 12, 28, 33, 49, 70))} million",
        "data": r.choice(DATA_KINDS),
        "vector": r.choice(VECTORS),
        "ctx": r.choice(CONTEXT),
        "country": r.choice(COUNTRIES),
    }


def _s_law(r: random.Random) -> Slots:
    req, topic = r.choice(REQUIREMENTS)
    return {
        "country": r.choice(COUNTRIES),
        "req": req,
        "topic": topic,
        "co": r.choice(COMPANIES),
        "votes": str(r.choice((212, 245, 301, 388, 402, 436))),
        "against": str(r.choice((12, 40, 77, 95))),
        "year": str(r.choice((2026, 2027, 2028))),
        "ctx": r.choice(CONTEXT),
    }


def _s_ban(r: random.Random) -> Slots:
    return {
        "country": r.choice(COUNTRIES),
        "app": r.choice(APPS),
        "ctx": r.choice(CONTEXT),
        "person": _person(r),
    }


def _s_funding(r: random.Random) -> Slots:
    return {
        "startup": r.choice(STARTUPS),
        "money": _money(r),
        "valuation": _money(r),
        "investor": r.choice(INVESTORS),
        "field": r.choice(
            (
                "AI agents",
                "chip design",
                "fusion energy",
                "drone delivery",
                "privacy tools",
                "robotics",
                "quantum computing",
                "legal AI",
            )
        ),
        "n": str(r.choice((40, 60, 120, 200, 350))),
        "ctx": r.choice(CONTEXT),
    }


def _s_earnings(r: random.Random) -> Slots:
    return {
        "co": r.choice(COMPANIES),
        "pct": str(r.choice((4, 7, 9, 12, 15, 18, 22, 31, 48, 94))),
        "driver": r.choice(DRIVERS),
        "q": r.choice(("first-quarter", "second-quarter", "third-quarter", "fourth-quarter")),
        "money": _money(r),
        "ctx": r.choice(CONTEXT),
    }


def _s_export(r: random.Random) -> Slots:
    a, b = r.sample(
        (
            "The US",
            "China",
            "Japan",
            "the Netherlands",
            "South Korea",
            "Taiwan",
            "Germany",
            "India",
            "Britain",
            "Russia",
        ),
        2,
    )
    return {
        "country": a,
        "country2": b,
        "thing": r.choice(EXPORT_THINGS),
        "co": r.choice(COMPANIES),
        "ctx": r.choice(CONTEXT),
    }


def _s_vuln(r: random.Random) -> Slots:
    co = r.choice(COMPANIES)
    product, _ = _product(r, co)
    return {
        "co": co,
        "product": product,
        "n": str(r.choice((12, 27, 38, 51, 59, 61, 73, 90, 117))),
        "cve": f"CVE-2026-{r.randint(1000, 49999)}",
        "ctx": r.choice(CONTEXT),
    }


def _s_dc(r: random.Random) -> Slots:
    return {
        "co": r.choice(COMPANIES),
        "money": _money(r),
        "place": r.choice(PLACES),
        "mw": str(r.choice((100, 250, 500, 800, 1000, 1500))),
        "jobs": _count(r),
        "ctx": r.choice(CONTEXT),
    }


def _s_outage(r: random.Random) -> Slots:
    return {
        "service": r.choice(SERVICES),
        "region": r.choice(REGIONS),
        "h": str(r.choice((2, 3, 4, 5, 6, 8, 11))),
        "cause": r.choice(CAUSES),
        "n": _count(r),
        "ctx": r.choice(CONTEXT),
    }


def _s_exec(r: random.Random) -> Slots:
    return {
        "co": r.choice(COMPANIES),
        "person": _person(r),
        "role": r.choice(ROLES),
        "old": _person(r),
        "ctx": r.choice(CONTEXT),
    }


def _s_court(r: random.Random) -> Slots:
    ruling, topic = r.choice(RULINGS)
    return {
        "court": r.choice(COURTS),
        "co": r.choice(COMPANIES),
        "ruling": ruling,
        "topic": topic,
        "days": str(r.choice((30, 60, 90))),
        "ctx": r.choice(CONTEXT),
    }


def _s_model(r: random.Random) -> Slots:
    co = r.choice(COMPANIES)
    product, _ = _product(r, co)
    return {
        "co": co,
        "model": product,
        "bench": r.choice(BENCHMARKS),
        "score": str(r.choice((61.2, 72.5, 80.1, 84.3, 88.9, 91.4))),
        "ctx": r.choice(CONTEXT),
        "country": r.choice(COUNTRIES),
    }


def _s_spectrum(r: random.Random) -> Slots:
    reg, reg_long = r.choice(REGULATORS)
    return {
        "reg": reg,
        "reg_long": reg_long,
        "band": r.choice(BANDS),
        "money": _money(r),
        "co": r.choice(COMPANIES),
        "co2": r.choice(COMPANIES),
        "ctx": r.choice(CONTEXT),
    }


FAMILIES: tuple[Family, ...] = (
    Family(
        "fine",
        _s_fine,
        ("{reg} fines {co} {money} over {issue}", "{co} hit with {money} {reg} fine over {issue}"),
        (
            "{reg_long} said {co} had {issue_long}.",
            "The {money} penalty is one of the largest the regulator has imposed.",
            "{co} said it disagreed with the decision and would consider an appeal.",
            "The company has {days} days to bring its practices into line.",
            "{ctx}",
        ),
        (
            (
                "{co} appeals {reg} penalty, calling it disproportionate",
                (
                    "{co} has asked a court to overturn the decision.",
                    "The company argued the regulator misread the law and ignored changes it had"
                    " already made.",
                ),
            ),
            (
                "{co} changes its {issue} policy in {country} after regulator's decision",
                (
                    "Users in {country} will see new settings from next month.",
                    "{co} said the update reflected feedback from regulators and users.",
                ),
            ),
        ),
        ("co", "money"),
    ),
    Family(
        "launch",
        _s_launch,
        (
            "{co} launches {product} {kind} with {feature}",
            "{co} unveils {product} {kind}, promising {feature}",
        ),
        (
            "{co} introduced the {product} {kind} at an event on Tuesday, highlighting {feature}.",
            "It will cost {price} and ship in {month}.",
            "{person}, who leads the project, said the launch was the result of three years of work.",
            "{ctx}",
        ),
        (
            (
                "{co} pushes back {product} release in {country}",
                (
                    "{co} said customers in {country} would have to wait for the {kind}.",
                    "The company cited regulatory questions and supply constraints.",
                ),
            ),
            (
                "Early buyers report overheating problems with {co} {product}",
                (
                    "Owners posted complaints on forums days after the {kind} went on sale.",
                    "{co} said it was investigating a small number of reports.",
                ),
            ),
        ),
        ("co", "product"),
    ),
    Family(
        "layoffs",
        _s_layoffs,
        ("{co} to cut {n} jobs as {reason}", "{co} lays off {n} staff in {division} unit"),
        (
            "{co} will eliminate about {n} positions, or roughly {pct}% of its workforce.",
            "Most of the cuts fall on the {division} division, according to an internal memo.",
            "{person}, a spokesperson, said affected employees would receive severance.",
            "{ctx}",
        ),
        (
            (
                "{co} workers in {place} protest against planned redundancies",
                (
                    "Hundreds of {co} staff gathered outside the office in {place}.",
                    "Unions said the company had not consulted them properly.",
                ),
            ),
            (
                "{co} shares climb after restructuring plan",
                (
                    "Investors welcomed the plan to reduce costs in the {division} division.",
                    "Analysts raised their price targets.",
                ),
            ),
        ),
        ("co", "n"),
    ),
    Family(
        "acquisition",
        _s_acq,
        ("{co} agrees to buy {co2} for {money}", "{co} to acquire {field} startup {co2} in {money} deal"),
        (
            "{co} said it would pay {money} in cash for {co2}, a {field} company.",
            "The deal is expected to close next year, subject to regulatory approval.",
            "{co2} will keep its brand and its founders will join {co}.",
            "{ctx}",
        ),
        (
            (
                "{reg} opens in-depth review of {co} takeover of {co2}",
                (
                    "The {reg} said the combination could reduce competition in {field}.",
                    "{co} said it would work constructively with the authority.",
                ),
            ),
            (
                "{co2} investors approve sale to {co}",
                (
                    "Shareholders of {co2} voted in favour of the agreement.",
                    "The transaction still needs clearance from competition authorities.",
                ),
            ),
        ),
        ("co", "co2"),
    ),
    Family(
        "probe",
        _s_probe,
        ("{reg} opens investigation into {co} over {issue}", "{co} faces {reg} probe over {issue}"),
        (
            "{reg_long} said it suspected {co} had {issue_long}.",
            "If the suspicions are confirmed, the company could face a large fine.",
            "{co} said it would cooperate fully with the inquiry.",
            "{ctx}",
        ),
        (
            (
                "{reg} widens inquiry into {co} to include {issue2}",
                (
                    "The regulator added a second line of investigation into {co}'s practices.",
                    "It did not give a timetable for a decision.",
                ),
            ),
        ),
        ("co", "reg"),
    ),
    Family(
        "breach",
        _s_breach,
        ("{co} confirms data breach affecting {n} customers", "Hackers stole {data} of {n} {co} customers"),
        (
            "{co} said attackers had accessed {data} belonging to {n} customers.",
            "The company said it had notified regulators and was contacting those affected.",
            "It was not yet clear who was behind the attack.",
            "{ctx}",
        ),
        (
            (
                "{co} sued by customers over security lapse",
                (
                    "A class action filed in {country} accuses {co} of failing to protect personal data.",
                    "Lawyers are seeking damages on behalf of affected users.",
                ),
            ),
            (
                "{co} hack traced to {vector}",
                (
                    "Investigators said the attackers got in through {vector}.",
                    "{co} said it had since tightened access controls.",
                ),
            ),
        ),
        ("co", "n"),
    ),
    Family(
        "law",
        _s_law,
        ("{country} passes law requiring {req}", "{country} lawmakers approve bill mandating {req}"),
        (
            "Parliament in {country} voted {votes} to {against} for the measure, which requires {req}.",
            "The rules take effect in {year}.",
            "Supporters said the law was overdue, while technology companies warned of unintended effects.",
            "{ctx}",
        ),
        (
            (
                "{co} threatens to pull services from {country} over new {topic} rules",
                (
                    "{co} said the law would make it impossible to operate as it does today.",
                    "The government said it would not be intimidated.",
                ),
            ),
            (
                "Tech industry challenges {country} {topic} law in court",
                (
                    "A trade group filed a constitutional complaint against the measure.",
                    "It argues the law is disproportionate.",
                ),
            ),
        ),
        ("country",),
    ),
    Family(
        "ban",
        _s_ban,
        (
            "{country} bans {app} on government devices",
            "{country} orders officials to remove {app} from work phones",
        ),
        (
            "The government of {country} said {app} posed a risk to sensitive data.",
            "Officials must delete the app within two weeks.",
            "{person}, a minister, said the decision followed advice from security agencies.",
            "{ctx}",
        ),
        (
            (
                "{app} says {country} ban rests on misconceptions",
                (
                    "{app} said it had not been given a chance to respond to the concerns.",
                    "It offered to open its systems to independent inspection.",
                ),
            ),
        ),
        ("country", "app"),
    ),
    Family(
        "funding",
        _s_funding,
        (
            "{startup} raises {money} at {valuation} valuation",
            "{investor} leads {money} round in {field} startup {startup}",
        ),
        (
            "{startup}, which builds {field}, raised {money} in a round led by {investor}.",
            "The deal values the company at {valuation}.",
            "It plans to use the money to hire and expand, and now employs {n} people.",
            "{ctx}",
        ),
        (
            (
                "{startup} opens offices in Europe and Asia",
                (
                    "{startup} said it would hire engineers in Berlin and Singapore.",
                    "The company is backed by {investor}.",
                ),
            ),
        ),
        ("startup", "money"),
    ),
    Family(
        "earnings",
        _s_earnings,
        (
            "{co} revenue jumps {pct}% on {driver} demand",
            "{co} {q} sales rise {pct}% as {driver} business grows",
        ),
        (
            "{co} reported {q} revenue of {money}, up {pct}% from a year earlier.",
            "Growth was driven by strong demand for its {driver} products.",
            "The company raised its forecast for the full year.",
            "{ctx}",
        ),
        (
            (
                "{co} shares slide despite strong results",
                (
                    "Investors focused on rising spending and a cautious outlook from {co}.",
                    "The stock fell in after-hours trading.",
                ),
            ),
        ),
        ("co", "pct"),
    ),
    Family(
        "export",
        _s_export,
        (
            "{country} tightens export controls on {thing} to {country2}",
            "{country} adds new curbs on {thing} sales to {country2}",
        ),
        (
            "{country} announced new restrictions on shipments of {thing} to {country2}.",
            "The rules close loopholes that allowed companies such as {co} to keep selling.",
            "Officials said the measures were needed for national security.",
            "{ctx}",
        ),
        (
            (
                "{country2} condemns {country} trade restrictions and vows response",
                (
                    "{country2} said the curbs violated trade rules.",
                    "It said it would take measures to protect its companies.",
                ),
            ),
        ),
        ("country", "country2", "thing"),
    ),
    Family(
        "vulnerability",
        _s_vuln,
        (
            "{co} patches {n} flaws including zero-day in {product}",
            "{co} fixes actively exploited {product} bug among {n} vulnerabilities",
        ),
        (
            "{co} released fixes for {n} security flaws, including {cve}, which attackers are"
            " already exploiting.",
            "The bug affects {product} and allows remote code execution.",
            "Administrators are urged to install the update immediately.",
            "{ctx}",
        ),
        (
            (
                "Attackers exploit unpatched {product} systems after {co} fix",
                (
                    "Security researchers said thousands of systems remained unpatched.",
                    "Scans show exploitation of {cve} rising sharply.",
                ),
            ),
        ),
        ("co", "n", "product"),
    ),
    Family(
        "datacenter",
        _s_dc,
        (
            "{co} to build {money} data centre in {place}",
            "{co} plans {mw}MW AI data centre campus in {place}",
        ),
        (
            "{co} will invest {money} in a data centre campus in {place} with {mw} megawatts of capacity.",
            "The project is expected to create {jobs} construction jobs.",
            "Local officials said tax incentives helped secure the investment.",
            "{ctx}",
        ),
        (
            (
                "Residents of {place} push back against {co} data centre",
                (
                    "Locals raised concerns about water use and noise.",
                    "{co} said it would use recycled water for cooling.",
                ),
            ),
        ),
        ("co", "place"),
    ),
    Family(
        "outage",
        _s_outage,
        (
            "{service} outage leaves users in {region} offline for {h} hours",
            "{service} down for {h} hours across {region}",
        ),
        (
            "Users in {region} were unable to reach {service} for about {h} hours.",
            "Monitoring sites recorded more than {n} problem reports at the peak.",
            "Service was restored later in the day.",
            "{ctx}",
        ),
        (
            (
                "{service} blames {cause} for outage",
                (
                    "In a post-incident report, the operator said {cause} triggered the disruption.",
                    "It promised changes to prevent a repeat.",
                ),
            ),
        ),
        ("service", "h"),
    ),
    Family(
        "exec",
        _s_exec,
        ("{co} names {person} as new {role}", "{co} appoints {person} {role}, replacing {old}"),
        (
            "{co} said {person} would become {role}, succeeding {old}.",
            "{person} joins from a rival firm and starts next month.",
            "{old} will stay on as an adviser until the end of the year.",
            "{ctx}",
        ),
        (
            (
                "{person} sets out priorities in first memo to {co} staff",
                (
                    "In the memo, {person} said the company would focus on fewer products.",
                    "Staff were told to expect changes to reporting lines.",
                ),
            ),
        ),
        ("co", "person"),
    ),
    Family(
        "court",
        _s_court,
        ("{court} rules {co} must {ruling}", "{co} ordered to {ruling} after court loss"),
        (
            "{court} ruled that {co} must {ruling}.",
            "The company has {days} days to comply.",
            "{co} said it strongly disagreed with the ruling.",
            "{ctx}",
        ),
        (
            (
                "{co} to appeal {topic} ruling",
                (
                    "{co} said it would take the case to a higher court.",
                    "Legal experts said the appeal could take years.",
                ),
            ),
        ),
        ("co", "court"),
    ),
    Family(
        "model",
        _s_model,
        (
            "{co} releases {model} model, claims top score on {bench}",
            "{co} {model} tops {bench} benchmark in company tests",
        ),
        (
            "{co} released {model}, which it said scored {score} on {bench}.",
            "The model is available to developers through an API from today.",
            "Independent researchers have not yet verified the results.",
            "{ctx}",
        ),
        (
            (
                "{co} limits access to {model} in {country}",
                (
                    "{co} said the model would not be offered in {country} for now.",
                    "It pointed to pending rules on AI systems.",
                ),
            ),
        ),
        ("co", "model"),
    ),
    Family(
        "spectrum",
        _s_spectrum,
        ("{reg} raises {money} in {band} spectrum auction", "{band} auction run by {reg} brings in {money}"),
        (
            "{reg_long} said its auction of {band} spectrum raised {money}.",
            "{co} and {co2} were among the winning bidders.",
            "The airwaves will be used to expand mobile coverage.",
            "{ctx}",
        ),
        (
            (
                "{co} outlines network plans after winning {band} airwaves",
                (
                    "{co} said it would use the spectrum to improve coverage in rural areas.",
                    "Deployment starts next year.",
                ),
            ),
        ),
        ("money", "band"),
    ),
)


# --- rendering -----------------------------------------------------------------------------------

_SMALL = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "at",
        "by",
        "with",
        "as",
        "from",
        "over",
        "after",
    }
)
PREFIXES = ("Exclusive: ", "Breaking: ", "Update: ", "EXCLUSIVE-", "Analysis: ", "Scoop: ", "Report: ")


def fill(template: str, slots: Slots) -> str:
    text = template.format(**slots)
    return text[:1].upper() + text[1:]


def title_case(title: str, *, ap_style: bool) -> str:
    out = []
    for i, w in enumerate(title.split(" ")):
        if ap_style and i and w.lower() in _SMALL:
            out.append(w.lower())
        elif len(w) > 1 and w[0].islower() and any(c.isupper() for c in w[1:]):
            out.append(w)  # iPhone, eSafety
        else:
            out.append(w[:1].upper() + w[1:])
    return " ".join(out)


def word_count(text: str) -> int:
    return len(text.split())


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


def _entry(source: str, key: str, title: str, summary: str, published: datetime) -> tuple[str, Entry]:
    site = SITES[SOURCES.index(source)] if source in SOURCES else f"{source}.example.com"
    link = f"https://{site}/{published:%Y/%m}/{_slug(title)}-{key}"
    entry = Entry(
        source_id=source,
        item_key=f"guid:{key}",
        url_key=url_identity(link),
        link=link,
        title=title,
        summary_html=f"<p>{summary}</p>",
        content_html="",
        summary_text=summary,
        published=published,
        updated=published,
        authors=(Person("Staff"),),
        categories=(),
        enclosures=(),
        language="en",
        content_hash=content_hash(title, f"<p>{summary}</p>", link),
    )
    return entry_id(source, f"guid:{key}"), entry


@dataclass
class Story:
    family: Family
    slots: Slots
    phrasing: int
    title: str
    sentences: list[str]


def make_story(
    rng: random.Random, family: Family | None = None, slots: Slots | None = None, phrasing: int | None = None
) -> Story:
    family = family or rng.choice(FAMILIES)
    slots = slots if slots is not None else family.slots(rng)
    phrasing = rng.randrange(len(family.titles)) if phrasing is None else phrasing
    title = fill(family.titles[phrasing], slots)
    sentences = [fill(s, slots) for s in family.body]
    return Story(family, slots, phrasing, title, sentences)


def base_summary(story: Story, rng: random.Random) -> str:
    # 3-5 sentences, 20-80 words.
    n = rng.randint(3, len(story.sentences))
    text = " ".join(story.sentences[:n])
    while word_count(text) > 80 and n > 2:
        n -= 1
        text = " ".join(story.sentences[:n])
    return text


def copy_variant(story: Story, summary: str, rng: random.Random, first: bool, site: str) -> tuple[str, str]:
    """One source's copy of a syndicated story: its title style and its summary."""
    title = story.title
    style = rng.random()
    if not first:
        if style < 0.35:
            title = title_case(title, ap_style=rng.random() < 0.5)
        elif style < 0.45:
            title = title.upper() if rng.random() < 0.2 else title_case(title, ap_style=True)
        if rng.random() < 0.3:
            title = rng.choice(PREFIXES) + title
        kind = rng.random()
        sentences = summary.split(". ")
        if kind < 0.35 and len(sentences) > 2:
            # Shortened: the first sentence or two.
            keep = rng.randint(1, 2)
            summary = ". ".join(sentences[:keep]).rstrip(".") + "."
        elif kind < 0.7:
            # Longer: another sentence of context, a wire credit, or WordPress's tail.
            extra = [rng.choice(CONTEXT)]
            if rng.random() < 0.4:
                extra.append(f"The post {story.title} appeared first on {site}.")
            elif rng.random() < 0.5:
                extra.append("Reporting by staff; editing by the news desk.")
            summary = summary + " " + " ".join(extra)
    return title, summary


# Headlines that a source rewrites in its own words: the same story, other phrasings
# (passive, reordered clauses, other verbs and nouns, a fact from the text). They are
# written here, independently of the judge: nothing in feeds knows these phrasings.
REWORDED: dict[str, tuple[str, ...]] = {
    "fine": (
        "{co} fined {money} by {reg} over {issue}",
        "{reg} hits {co} with {money} penalty for {issue}",
        "{co} must pay {money} after {reg} ruling on {issue}",
        "{money} penalty for {co} in {reg} {issue} case",
    ),
    "launch": (
        "{product} {kind} from {co} brings {feature}",
        "{co} debuts {product}, a {kind} with {feature}",
        "{co} takes the wraps off {product} {kind}",
        "Meet {co}'s {product}: a {kind} with {feature}",
    ),
    "layoffs": (
        "{co} slashes {n} roles as {reason}",
        "{n} jobs to go at {co}",
        "{co} axes {n} positions in {division} division",
        "Job cuts at {co}: {n} roles to go",
    ),
    "acquisition": (
        "{co2} acquired by {co} for {money}",
        "{co} snaps up {field} firm {co2}",
        "{co} buys {co2} in {money} deal",
        "{co2} agrees to {money} takeover by {co}",
    ),
    "probe": (
        "{co} under investigation by {reg} over {issue}",
        "{reg} launches probe of {co} {issue}",
        "{reg} investigating {co} over {issue}",
        "Regulator {reg} targets {co} over {issue}",
    ),
    "breach": (
        "{n} {co} customers hit by data breach",
        "{co} says hackers accessed data of {n} customers",
        "Data of {n} customers exposed in {co} hack",
        "{co} hack exposes {data} of {n} users",
    ),
    "law": (
        "New law in {country} will require {req}",
        "{country} parliament votes for {req}",
        "Lawmakers in {country} back bill on {req}",
    ),
    "ban": (
        "{app} banned from government phones in {country}",
        "{country} government bans {app} on official devices",
        "{country} tells officials to delete {app}",
        "No more {app} on {country} government devices",
    ),
    "funding": (
        "{startup} valued at {valuation} after {money} raise",
        "{startup} lands {money} from {investor}",
        "{field} startup {startup} secures {money} in funding",
        "{investor} backs {startup} with {money}",
    ),
    "earnings": (
        "{co} sales up {pct}% thanks to {driver} demand",
        "{driver} demand lifts {co} revenue {pct}%",
        "{co} posts {pct}% revenue growth",
        "Strong {driver} demand boosts {co} {q} revenue",
    ),
    "export": (
        "{country2} hit by new {country} export curbs on {thing}",
        "New {country} restrictions on {thing} exports to {country2}",
        "{country} moves to limit {thing} shipments to {country2}",
    ),
    "vulnerability": (
        "{co} fixes zero-day in {product} among {n} bugs",
        "Patch now: {co} closes {n} holes including exploited {product} flaw",
        "{product} zero-day patched by {co}",
    ),
    "datacenter": (
        "{co} plans {money} {place} data centre",
        "{place} to get {money} {co} data centre",
        "{co} picks {place} for {money} data centre",
        "{co} commits {money} to data center campus in {place}",
    ),
    "outage": (
        "Users in {region} hit by {h}-hour {service} outage",
        "{service} restored after {h}-hour outage in {region}",
        "{service} goes down across {region} for {h} hours",
    ),
    "exec": (
        "{person} to become {co} {role}",
        "{co} taps {person} as {role}",
        "{person} named {role} at {co}",
    ),
    "court": (
        "{co} loses case, must {ruling}",
        "Court orders {co} to {ruling}",
        "{co} told by court to {ruling}",
    ),
    "model": (
        "{model} from {co} leads {bench} benchmark",
        "{co} unveils {model}, says it beats rivals on {bench}",
        "{co} launches {model} AI model",
    ),
    "spectrum": (
        "{band} spectrum sale by {reg} raises {money}",
        "{reg} {band} auction nets {money}",
        "{money} raised in {reg} {band} spectrum auction",
    ),
}
REWORD_SHARE = 0.25  # of the copies after the first


def money_forms(money: str, rng: random.Random) -> str:
    """ "$2 billion" as sources write it: $2bn, $2B, US$2 billion, 2 billion dollars..."""
    m = re.fullmatch(r"([$€£])([\d.]+) (million|billion)", money)
    if m is None:
        return money
    cur, amount, unit = m.groups()
    short = {"million": rng.choice(("m", "mn", "M")), "billion": rng.choice(("bn", "B", "bn"))}[unit]
    word = {"$": "dollars", "€": "euros", "£": "pounds"}[cur]
    forms = [f"{cur}{amount}{short}", f"{cur}{amount} {unit}", f"{amount} {unit} {word}"]
    if cur == "$":
        forms.append(f"US${amount}{short}")
    if unit == "billion" and float(amount) < 10:
        forms.append(f"{cur}{float(amount) * 1000:,.0f} million")
    return rng.choice(forms)


def count_forms(count: str, rng: random.Random) -> str:
    """ "15,000" as sources write it: 15,000, 15000, 15K, 15k, 15 thousand."""
    n = int(count.replace(",", ""))
    forms = [f"{n:,}", str(n)]
    if n % 1000 == 0:
        forms += [f"{n // 1000}K", f"{n // 1000}k", f"{n // 1000} thousand"]
    return rng.choice(forms)


def reword(story: Story, summary: str, rng: random.Random) -> tuple[str, str]:
    """A copy whose source rewrote the headline: another phrasing of the story, numbers
    often written another way, sometimes in title case or with a prefix; the summary is
    kept, or cut to its first sentence or two."""
    slots = dict(story.slots)
    template = rng.choice(REWORDED[story.family.name])
    if rng.random() < 0.6:
        for name in ("money", "valuation"):
            if name in slots:
                slots[name] = money_forms(slots[name], rng)
        if "n" in slots and re.fullmatch(r"[\d,]+", slots["n"]):
            slots["n"] = count_forms(slots["n"], rng)
        template = template.replace("{pct}%", "{pct}" + rng.choice((" per cent", " percent", "%")))
    title = fill(template, slots)
    if rng.random() < 0.25:
        title = title_case(title, ap_style=rng.random() < 0.5)
    if rng.random() < 0.15:
        title = rng.choice(PREFIXES) + title
    sentences = summary.split(". ")
    if rng.random() < 0.5 and len(sentences) > 2:
        summary = ". ".join(sentences[: rng.randint(1, 2)]).rstrip(".") + "."
    return title, summary


def headline_key(story: Story) -> tuple[str, ...]:
    """What any headline of the story can say: its family and the slots its phrasings
    (``titles`` and ``REWORDED``) use. Two stories with the same key cannot be told
    apart by their headlines, so the generator does not make them."""
    family = story.family
    used = sorted({n for t in (*family.titles, *REWORDED[family.name]) for n in re.findall(r"{(\w+)}", t)})
    return (family.name, *(story.slots[n] for n in used))


# --- the labelled corpus -------------------------------------------------------------------------


def _series(rng: random.Random, n: int) -> Iterator[tuple[str, str]]:
    """Consecutive issues of a newsletter or a podcast: (title, summary) pairs."""
    names = (
        ("AI Weekly #{n}: {sub}", "This week in AI: the models, the money and the rules. {hl}"),
        ("Policy Roundup #{n} — {sub}", "Our weekly digest of technology policy from around the world. {hl}"),
        (
            "This Week in Security, Episode {n}: {sub}",
            "The week's breaches, patches and threats, in one place. {hl}",
        ),
        (
            "The Chip Letter No. {n}: {sub}",
            "A weekly newsletter about semiconductors and the chip industry. {hl}",
        ),
        (
            "Import AI {n}: {sub}",
            "Welcome to Import AI, a newsletter about artificial intelligence research. {hl}",
        ),
        (
            "Telecom Tuesday #{n} - {sub}",
            "Every Tuesday, the news from networks, spectrum and carriers. {hl}",
        ),
        (
            "Open Source Digest {n}: {sub}",
            "Releases, governance and funding news from open source projects. {hl}",
        ),
    )
    subs = (
        "agents everywhere",
        "the chip race",
        "regulators wake up",
        "the cost of compute",
        "privacy in the age of AI",
        "open weights",
        "the spectrum crunch",
        "a quiet week",
    )
    title_t, sum_t = names[n % len(names)]
    num = rng.randint(12, 320)
    same_sub = rng.random() < 0.5
    sub = rng.choice(subs)
    for k in range(rng.choice((2, 2, 3))):
        if not same_sub:
            sub = rng.choice(subs)
        hl = make_story(rng).title
        yield title_t.format(n=num + k, sub=sub), sum_t.format(hl=f"Also: {hl}.")


_COLUMNS = (
    (
        "Morning briefing: {hl}",
        "Your daily briefing on technology and policy news. Sign up to get it in your "
        "inbox every weekday morning, with the stories that matter and what they mean.",
    ),
    (
        "The Download: {hl}",
        "This is today's edition of The Download, our weekday newsletter that provides a "
        "daily dose of what's going on in the world of technology.",
    ),
    (
        "Tech Tuesday: {hl}",
        "Every Tuesday our editors pick the one technology story you should not miss, and "
        "explain what it means for you and your business.",
    ),
    (
        "Week in review: {hl}",
        "The biggest stories of the week in technology and policy, and the ones you may have "
        "missed, picked by our editors.",
    ),
    (
        "Ask the expert: {hl}",
        "Readers send us their questions about technology, privacy and the law, and our "
        "experts answer them. Send yours to our newsroom.",
    ),
)


# Slots that say the same thing as another slot in other words: they change together.
COMPANIONS = {"reg": ("reg_long",), "issue": ("issue_long",), "ruling": ("topic",), "req": ("topic",)}


def labelled(seed: int = 7, stories: int = 600) -> list[Item]:
    """The labelled corpus, in arrival order."""
    rng = random.Random(seed)
    items: list[Item] = []
    key = 0

    def emit(
        label: str, kind: str, source: str, title: str, summary: str, when: datetime, reworded: bool = False
    ) -> None:
        nonlocal key
        key += 1
        eid, entry = _entry(source, f"k{key}", title, summary, when)
        items.append(Item(label, kind, eid, entry, reworded))

    # Rewording draws from its own generator, so the rest of the corpus is the same
    # entries it was before rewording existed.
    rewording = random.Random(seed * 1_000_003 + 1)

    span = timedelta(days=30).total_seconds()
    titles: set[str] = set()  # headlines in use: a chance repeat would be the same story
    keys: set[tuple[str, ...]] = set()  # so would one in another phrasing (headline_key)
    for s in range(stories):
        story = make_story(rng)
        while story.title.casefold() in titles or headline_key(story) in keys:
            story = make_story(rng)
        titles.add(story.title.casefold())
        keys.add(headline_key(story))
        t0 = START + timedelta(seconds=rng.uniform(0, span))
        summary = base_summary(story, rng)
        label = f"story:{s}"
        roll = rng.random()
        n_copies = 1 if roll < 0.15 else rng.choice((2, 2, 3, 3, 4))
        kind = "single" if n_copies == 1 else "syndicated"
        for c, source in enumerate(rng.sample(SOURCES, n_copies)):
            when = t0 + timedelta(minutes=0 if c == 0 else rng.uniform(5, 36 * 60))
            title, text = copy_variant(story, summary, rng, c == 0, SITES[SOURCES.index(source)])
            if c > 0 and rewording.random() < REWORD_SHARE:
                title, text = reword(story, summary, rewording)
                emit(label, kind, source, title, text, when, reworded=True)
                continue
            emit(label, kind, source, title, text, when)

        if s % 4 == 0:
            # Two different stories from the same template: change one slot that the
            # headline shows, to a value no other slot of the story has.
            phrasing = story.family.titles[story.phrasing]
            slot = rng.choice([v for v in story.family.vary if "{" + v + "}" in phrasing])
            other = story.family.slots(rng)
            slots = dict(story.slots)
            for name in (slot, *COMPANIONS.get(slot, ())):
                slots[name] = other[name]
            twin = make_story(rng, story.family, slots, story.phrasing)
            fresh = twin.title.casefold() not in titles and headline_key(twin) not in keys
            if other[slot] not in story.slots.values() and fresh:
                titles.add(twin.title.casefold())
                keys.add(headline_key(twin))
                when = t0 + timedelta(hours=rng.uniform(-30, 30))
                for c, source in enumerate(rng.sample(SOURCES, rng.choice((1, 2)))):
                    title, text = copy_variant(twin, base_summary(twin, rng), rng, c == 0, "x")
                    emit(f"twin:{s}", "template", source, title, text, when + timedelta(hours=c))
        if s % 4 == 1 and story.family.followups:
            # A follow-up on the same subject, a day or two later (unless another story's
            # follow-up already has this headline: that would be one story).
            ft, fb = rng.choice(story.family.followups)
            title = fill(ft, story.slots)
            if title.casefold() not in titles:
                titles.add(title.casefold())
                body = [fill(x, story.slots) for x in fb]
                recap = story.sentences[0]
                text = " ".join(
                    [*body, f"Earlier this week: {recap}" if rng.random() < 0.5 else "", rng.choice(CONTEXT)]
                ).replace("  ", " ")
                when = t0 + timedelta(hours=rng.uniform(6, 60))
                for c, source in enumerate(rng.sample(SOURCES, rng.choice((1, 2)))):
                    t = title if c == 0 else title_case(title, ap_style=True)
                    emit(f"follow:{s}", "follow-up", source, t, text, when + timedelta(hours=c))
        if s % 10 == 2:
            for k, (title, text) in enumerate(_series(rng, s // 10)):
                source = rng.choice(SOURCES)
                if title.casefold() in titles:  # the same issue of the same series
                    continue
                titles.add(title.casefold())
                emit(f"series:{s}:{k}", "series", source, title, text, t0 + timedelta(days=k * 0.5))
        if s % 10 == 7:
            title_t, text = _COLUMNS[(s // 10) % len(_COLUMNS)]
            for k in range(rng.choice((2, 3))):
                hl = make_story(rng).title
                while hl.casefold() in titles:  # a column about a story we carry is that story
                    hl = make_story(rng).title
                titles.add(hl.casefold())
                source = rng.choice(SOURCES)
                emit(
                    f"column:{s}:{k}",
                    "column",
                    source,
                    title_t.format(hl=hl),
                    text,
                    t0 + timedelta(hours=k * rng.uniform(4, 24)),
                )
    items.extend(real_items(START))
    # Arrival order: by publication time, as a polling aggregator mostly sees them.
    items.sort(key=lambda i: (i.entry.published, i.entry_id))
    return items


def real_items(start: datetime) -> list[Item]:
    """Entries of the real feeds in tests/data/corpus/, each its own story, moved into the
    benchmark's month (each feed's items squeezed into two days, order kept) and spread over
    three source ids so that items of one feed are compared with each other."""
    out: list[Item] = []
    with open(REAL_CORPUS / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), key=lambda r: r["file"])
    labels: dict[str, str] = {}
    for n, row in enumerate(rows):
        if row["format"] == "-":
            continue
        name = row["file"]
        source = Source(id=f"real{n}", title=name)
        doc = Document(
            source_id=source.id,
            url=f"https://feeds.example.org/{name}",
            body=(REAL_CORPUS / name).read_bytes(),
            headers={},
        )
        try:
            feed = parse_document(doc)
        except Exception:  # a malformed fixture: nothing to take from it
            continue
        ctx = Context(
            source=source, base_url="https://me.example.net/", now=start, document_url=doc.url, feed=feed
        )
        entries = [normalize(e, ctx) for e in feed.entries]
        entries.sort(key=lambda e: e.published)
        if not entries:
            continue
        first, last = entries[0].published, entries[-1].published
        spread = max((last - first).total_seconds(), 1.0)
        base = start + timedelta(days=(n * 1.3) % 28)
        for k, e in enumerate(entries):
            when = base + timedelta(seconds=(e.published - first).total_seconds() / spread * 2 * 86400)
            e = replace(e, source_id=f"real{n}-{k % 3}", published=when, updated=when)
            # Items with the same title and text are one story (feeds repeat themselves).
            fold = hashlib.sha256(f"{e.title.casefold()}\n{e.summary_text.casefold()}".encode()).hexdigest()
            label = labels.setdefault(fold, f"real:{name}:{k}")
            out.append(Item(label, "real", entry_id(e.source_id, e.item_key), e))
    return out


# --- the scaling corpus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One entry as a running deployment takes it in."""

    arrived: datetime  # when we first see it: the store's ``now``
    entry_id: str
    entry: Entry
    copy_of: str | None  # the entry id of the story's first copy, for a syndicated copy


def deployment(
    seed: int, start: datetime, per_day: float, sources: int = 400, copies: float = 0.25
) -> Iterator[Arrival]:
    """An endless stream of entries in arrival order, as a deployment polling ``sources``
    feeds takes them in: ``per_day`` entries a day at a steady rate, from sources of very
    different volumes (a few wires, many small blogs: Zipf weights), each published up to
    three hours before we see it. A share ``copies`` are copies of a story first seen in
    the last 36 hours, from another source, restyled as syndication does
    (``copy_variant``); the rest are new stories."""
    rng = random.Random(seed)
    names = [f"feed{k:03d}" for k in range(sources)]
    weights = [1 / (k + 1) ** 0.8 for k in range(sources)]
    cum = [sum(weights[: k + 1]) for k in range(sources)]
    recent: list[tuple[datetime, Story, str, str, str]] = []  # (arrived, story, summary, id, source)
    step = 86400 / per_day
    now = start
    n = 0
    while True:
        n += 1
        now += timedelta(seconds=rng.expovariate(1 / step))
        source = rng.choices(names, cum_weights=cum)[0]
        published = now - timedelta(seconds=rng.uniform(0, 3 * 3600))
        while recent and now - recent[0][0] > timedelta(hours=36):
            recent.pop(0)
        pick = rng.choice(recent) if recent and rng.random() < copies else None
        if pick is not None and pick[4] != source:  # a source does not copy itself
            _at, story, summary, first_id, _src = pick
            title, text = copy_variant(story, summary, rng, False, f"{source}.example.com")
            eid, entry = _entry(source, f"d{seed}-{n}", title, text, published)
            yield Arrival(now, eid, entry, first_id)
            continue
        story = make_story(rng)
        summary = base_summary(story, rng)
        eid, entry = _entry(source, f"d{seed}-{n}", story.title, summary, published)
        recent.append((now, story, summary, eid, source))
        yield Arrival(now, eid, entry, None)
