"""The ``templated`` corpus profile: headlines and summaries cut from news templates.

Real feeds template their headlines: funding rounds, security advisories, product
launches, "Inside X's bet on Y". Two such stories share most of their words and
word pairs while being different stories, so a near-duplicate search that only
looks at shared shingles meets many candidates for each new entry. The default
profile's random-word text hardly ever does; this one does, on purpose.

Everything here is drawn from the ``random.Random`` the generator hands over, so
the corpus stays deterministic by seed. Slot fillers are invented (no real
companies), and none of the templates come from ``bench/dedupe/corpus.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

_COMPANY_HEADS = [
    "Arclight", "Brightwave", "Cobalt", "Driftwood", "Emberly", "Fathom", "Granite", "Helix",
    "Ironbark", "Juniper", "Kestrel", "Lumen", "Meridian", "Northwind", "Onyx", "Pylon",
    "Quarry", "Rivet", "Sable", "Tessel", "Umbra", "Vantage", "Wren", "Yarrow", "Zenith",
    "Alder", "Basalt", "Cinder", "Dune", "Ember", "Fjord", "Glacier", "Harbor", "Indigo",
    "Jasper", "Kelp", "Larch", "Mica", "Nettle", "Opal", "Pebble", "Quill", "Rook", "Slate",
    "Thistle", "Upland", "Vireo", "Willow",
]
_COMPANY_TAILS = ["Labs", "AI", "Systems", "Cloud", "Networks", "Robotics", "Security", "Data",
                  "Health", "Bio", "Energy", "Pay", "Semiconductor", "Software", "Analytics", "Space"]
_INVESTORS = ["Northgate Ventures", "Harbor Light Capital", "Tidewater Partners", "Summit Peak Fund",
              "Redwood Row", "Blue Lantern Ventures", "Copperline Capital", "Foundry Hill",
              "Granary Partners", "Longview Growth", "Marble Arch Ventures", "Outpost Capital"]
_PRODUCTS = ["Atlas", "Beacon", "Cascade", "Drift", "Echo", "Forge", "Glide", "Halyard", "Ingot",
             "Jetstream", "Keystone", "Lattice", "Mosaic", "Nimbus", "Orbit", "Prism", "Relay",
             "Summit", "Tandem", "Vertex", "Warden", "Anchor", "Bramble", "Conduit", "Dynamo",
             "Ferry", "Gantry", "Hearth", "Lodestar", "Pinnacle", "Sextant", "Trellis"]
_PRODUCT_KINDS = ["database", "browser", "firewall", "VPN client", "router firmware", "mail server",
                  "password manager", "CI runner", "container runtime", "identity platform",
                  "language model", "AI assistant", "smart camera", "payment terminal", "chip",
                  "laptop", "phone", "satellite modem", "observability suite", "data warehouse"]
_TECH = ["AI agents", "small modular reactors", "humanoid robots", "quantum error correction",
         "RISC-V chips", "solid-state batteries", "satellite broadband", "open-source databases",
         "edge inference", "passkeys", "synthetic biology", "carbon capture", "private 5G",
         "photonic computing", "lab-grown diamonds", "vertical farming", "autonomous trucks",
         "digital twins", "fusion power", "homomorphic encryption", "on-device language models"]
_VULNS = ["remote code execution", "privilege escalation", "authentication bypass", "SQL injection",
          "path traversal", "cross-site scripting", "denial of service", "memory corruption",
          "information disclosure", "server-side request forgery"]
_SEVERITY = ["critical", "high-severity", "actively exploited", "zero-day", "unauthenticated"]
_AGENCIES = ["the Data Protection Board", "the Competition Office", "the Telecom Authority",
             "the Consumer Bureau", "the Financial Conduct Unit", "the Trade Commission",
             "the Cyber Agency", "the Privacy Commissioner"]
_ISSUES = ["cookie consent", "children's data", "misleading ads", "location tracking",
           "data retention", "a 2023 breach", "dark patterns", "unfair contract terms",
           "price fixing", "biometric data"]
_CITIES = ["Lisbon", "Austin", "Toronto", "Berlin", "Nairobi", "Seoul", "Bangalore", "Melbourne",
           "Warsaw", "Denver", "Tallinn", "Montreal", "Osaka", "Bristol", "Lagos", "Santiago"]
_REGIONS = ["Europe", "Latin America", "Southeast Asia", "the Middle East", "Japan", "Africa",
            "North America", "India"]
_PEOPLE_FIRST = ["Maya", "Tomas", "Aiko", "Ravi", "Lena", "Kofi", "Ines", "Jonah", "Farah", "Pieter",
                 "Noor", "Diego", "Hana", "Oskar", "Zara", "Emeka"]
_PEOPLE_LAST = ["Lindqvist", "Okonkwo", "Marchetti", "Nakamura", "Desai", "Vogel", "Amari",
                "Castillo", "Brennan", "Haddad", "Sorensen", "Mbeki", "Kowalski", "Tan"]
_ROLES = ["chief executive", "chief technology officer", "head of security", "chief financial officer",
          "head of research", "president"]
_FEATURES = ["vector search", "end-to-end encryption", "offline mode", "ARM support", "SSO",
             "streaming replication", "GPU scheduling", "passkey login", "dark mode", "audit logs"]
_REASONS = ["demand slows", "it shifts to AI", "funding dries up", "sales miss targets",
            "it restructures", "costs mount"]

# Sentences any story may carry: wire boilerplate, shared across every template.
_BOILERPLATE = [
    "The company did not respond to a request for comment.",
    "A spokesperson declined to comment further.",
    "The news was first reported by industry newsletters on {day}.",
    "Shares of {company} moved {pct} percent in early trading.",
    "The move comes as competition in the sector intensifies.",
    "Analysts said the announcement was largely expected.",
    "{company} has about {staff} employees, according to its website.",
    "More details are expected at the company's developer conference later this year.",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

Slots = dict[str, str]

# kind -> (headline templates, summary sentence templates)
_TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "funding": (
        ["{company} raises {amount} Series {round} to build {tech}",
         "{company} raises {amount} in Series {round} led by {investor}",
         "{tech} startup {company} lands {amount} from {investor}",
         "{company} secures {amount} to expand {tech} in {region}"],
        ["{company}, a {city}-based startup working on {tech}, said on {day} it had raised {amount}"
         " in a Series {round} round led by {investor}.",
         "The company plans to use the money to hire {staff} engineers and expand into {region}.",
         "{company} was founded in {year} by {person} and {person2}.",
         "The round values {company} at {valuation}, according to people familiar with the deal.",
         "Existing investors also took part in the round.",
         "Investors have poured money into {tech} this year."]),
    "advisory": (
        ["{vendor} patches {severity} flaw in {product} ({cve})",
         "{cve}: {severity} {vuln} bug in {product} {version}",
         "{severity} {vuln} vulnerability found in {vendor} {product}",
         "Update now: {vendor} fixes {vuln} in {product} {version}"],
        ["{vendor} has released a fix for {cve}, a {severity} {vuln} vulnerability in {product}"
         " {version} and earlier.",
         "The flaw lets a remote attacker run code on affected systems without logging in.",
         "Researchers at {company} reported the bug to {vendor} in {month}.",
         "Administrators are urged to upgrade to {product} {version2} as soon as possible.",
         "There is no evidence the vulnerability has been exploited, the advisory says.",
         "The advisory rates the issue {score} out of 10 on the CVSS scale."]),
    "launch": (
        ["{company} launches {product} {version}, its fastest {kind} yet",
         "{company} unveils {product}, a {kind} for {audience}",
         "{company} debuts {product} {kind} with {feature}",
         "Hands-on with {company}'s new {product} {kind}"],
        ["{company} on {day} introduced {product}, a {kind} aimed at {audience}.",
         "{product} adds {feature} and is available from today in {region}.",
         "Pricing starts at {price} a month, the company said.",
         "{person}, {company}'s {role}, said the {kind} had been two years in the making.",
         "Early customers include several large banks and retailers.",
         "The launch puts {company} in direct competition with larger rivals."]),
    "inside": (
        ["Inside {company}'s bet on {tech}",
         "Why {company} is betting big on {tech}",
         "How {company} plans to win the race for {tech}",
         "{company}'s {tech} gamble, explained"],
        ["{company} has spent the past {years} years quietly building a team around {tech}.",
         "{person}, who leads the effort as {role}, says the company expects it to pay off by {year2}.",
         "The bet has cost {company} about {amount} so far.",
         "Not everyone inside the company is convinced, several employees said.",
         "Rivals in {region} are chasing the same market.",
         "The company now has {staff} people working on {tech}."]),
    "acquisition": (
        ["{company} to acquire {company2} for {amount}",
         "{company} buys {tech} startup {company2}",
         "{company} agrees {amount} deal for {company2}",
         "{company2} sold to {company} in {tech} push"],
        ["{company} said on {day} it would buy {company2}, which makes software for {tech}, for {amount}.",
         "The deal is expected to close in the second half of the year, subject to regulatory approval.",
         "{company2}'s {staff} employees will join {company}'s {kind} team.",
         "{person}, {company2}'s founder, will stay on as {role}.",
         "It is {company}'s third acquisition this year.",
         "The price is a premium of {pct} percent on the startup's last valuation."]),
    "layoffs": (
        ["{company} cuts {pct}% of staff as {reason}",
         "{company} to lay off {staff} workers as {reason}",
         "{company} announces layoffs, closes {city} office",
         "More job cuts at {company} as {reason}"],
        ["{company} will cut about {staff} jobs, or {pct} percent of its workforce, it said on {day}.",
         "The cuts fall mostly on sales and support teams in {region}.",
         "{person}, the {role}, said in a memo to staff that the decision was painful.",
         "The company will close its office in {city} by the end of the quarter.",
         "It is the second round of layoffs at {company} in {years} years.",
         "Affected employees will receive {weeks} weeks of severance."]),
    "fine": (
        ["{agency_title} fines {company} {amount} over {issue}",
         "{company} hit with {amount} penalty for {issue}",
         "{company} to pay {amount} to settle {issue} probe",
         "Regulator penalises {company} over {issue}"],
        ["{agency} on {day} fined {company} {amount} for breaking the rules on {issue}.",
         "The regulator said {company} had failed to act for {years} years despite warnings.",
         "{company} said it disagreed with the decision and would appeal.",
         "It is the largest penalty {agency} has imposed this year.",
         "The investigation began after complaints from consumer groups in {city}.",
         "The company must change its practices within {weeks} weeks."]),
    "release": (
        ["{product} {version} released with {feature}",
         "{product} {version} is out: {feature} and faster builds",
         "What's new in {product} {version}",
         "{product} {version} drops support for old {kind}s"],
        ["Version {version} of {product}, the open-source {kind}, is now available.",
         "The headline feature is {feature}, which users have requested for years.",
         "The release also fixes {bugs} bugs and improves start-up time by {pct} percent.",
         "{product} {version_old} will receive security fixes until {month}.",
         "Packages are available for all major platforms.",
         "{person} took over as lead maintainer of {product} last year."]),
    "earnings": (
        ["{company} Q{quarter} revenue rises {pct}% on {tech} demand",
         "{company} beats estimates as {tech} sales climb",
         "{company} shares fall after Q{quarter} results",
         "{company} reports {amount} quarterly revenue"],
        ["{company} reported revenue of {amount} for the {ordinal} quarter, up {pct} percent from"
         " a year earlier.",
         "Sales of products for {tech} grew fastest, the company said.",
         "{person}, the {role}, told analysts that demand in {region} remained strong.",
         "The company raised its forecast for the full year.",
         "Operating margin narrowed as the company kept hiring.",
         "The results were published after the market closed on {day}."]),
}


def _amount(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f"${rng.randint(1, 9)}.{rng.randint(1, 9)} billion"
    millions = (5, 8, 12, 15, 20, 25, 30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250, 300)
    return f"${rng.choice(millions)} million"


def _company(rng: random.Random) -> str:
    return f"{rng.choice(_COMPANY_HEADS)} {rng.choice(_COMPANY_TAILS)}"


def _slots(rng: random.Random, published: datetime) -> Slots:
    major = rng.randint(1, 24)
    minor = rng.randint(0, 12)
    return {
        "company": _company(rng), "company2": _company(rng), "vendor": _company(rng),
        "investor": rng.choice(_INVESTORS), "product": rng.choice(_PRODUCTS),
        "kind": rng.choice(_PRODUCT_KINDS), "tech": rng.choice(_TECH), "vuln": rng.choice(_VULNS),
        "severity": rng.choice(_SEVERITY), "agency": rng.choice(_AGENCIES), "issue": rng.choice(_ISSUES),
        "city": rng.choice(_CITIES), "region": rng.choice(_REGIONS), "role": rng.choice(_ROLES),
        "person": f"{rng.choice(_PEOPLE_FIRST)} {rng.choice(_PEOPLE_LAST)}",
        "person2": f"{rng.choice(_PEOPLE_FIRST)} {rng.choice(_PEOPLE_LAST)}",
        "feature": rng.choice(_FEATURES), "reason": rng.choice(_REASONS),
        "amount": _amount(rng), "valuation": _amount(rng), "price": f"${rng.randint(5, 99)}",
        "round": rng.choice("ABCD"), "cve": f"CVE-{published.year}-{rng.randint(1000, 49999)}",
        "version": f"{major}.{minor}", "version2": f"{major}.{minor + 1}",
        "version_old": f"{max(1, major - 1)}.{rng.randint(0, 9)}",
        "score": f"{rng.randint(7, 9)}.{rng.randint(0, 9)}", "pct": str(rng.randint(3, 40)),
        "staff": str(rng.choice((40, 60, 120, 200, 350, 500, 800, 1200, 2000))),
        "years": str(rng.randint(2, 6)), "weeks": str(rng.randint(4, 16)), "bugs": str(rng.randint(20, 400)),
        "year": str(rng.randint(2012, 2023)), "year2": str(rng.randint(2026, 2030)),
        "month": rng.choice(("January", "March", "April", "June", "September", "November")),
        "day": rng.choice(_DAYS), "quarter": str(rng.randint(1, 4)),
        "ordinal": rng.choice(("first", "second", "third", "fourth")),
        "audience": rng.choice(("small businesses", "developers", "hospitals", "schools", "banks",
                                "gamers", "creators", "factories")),
    }


def _title_case(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))


def templated_story_text(rng: random.Random, published: datetime,
                         linkify: Callable[[], str]) -> tuple[str, str]:
    """A headline and an HTML summary from one template, with the same slots filled.
    ``linkify`` gives an optional inline link or markup to end a sentence with ("" for none)."""
    kind = rng.choice(sorted(_TEMPLATES))
    heads, sentences = _TEMPLATES[kind]
    slots = _slots(rng, published)
    slots["agency_title"] = slots["agency"].removeprefix("the ")
    title = rng.choice(heads).format(**slots)
    title = title[0].upper() + title[1:]
    if rng.random() < 0.2:  # some publishers capitalise every word
        title = _title_case(title)
    n = rng.randint(3, len(sentences))
    # The opening sentence first, then others of the template and some boilerplate.
    chosen = [sentences[0], *rng.sample(sentences[1:], n - 1)]
    chosen += rng.sample(_BOILERPLATE, rng.randint(1, 3))
    texts = [s.format(**slots) + linkify() for s in chosen]
    split = rng.randint(1, len(texts) - 1)
    paras = [" ".join(texts[:split]), " ".join(texts[split:])]
    return title, "".join(f"<p>{p}</p>" for p in paras)
