"""Positions and deterministic sample applicants, each with the outcome a bot should reach.

About 75 % of applicants should simply be registered. The others carry one
problem a bot must spot *before* it submits (bad identity number, bad email,
unknown position, no consent), or are a second copy of an earlier applicant for
the same position, which a correct bot recognises as already registered and
counts as done. A few people also apply for two different positions: those are
two legitimate registrations, a trap for bots that deduplicate on the number alone.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from targets.recruitment_portal.nin import corrupt_nin, make_nin
from targets.recruitment_portal.pdf import make_pdf

DEFAULT_SEED = 2026
DEFAULT_COUNT = 200
REGISTER = "register"
ALREADY_REGISTERED = "already_registered"
RULE_CODES: tuple[str, ...] = ("NIN_INVALID", "EMAIL_INVALID", "POSITION_UNKNOWN", "NO_CONSENT")
PROBLEM_SHARE = 0.05
"""Share of applicants per rule code, and of repeated applicants."""
SAME_PERSON_OTHER_POSITION = 3
WORK_ITEM_COLUMNS: tuple[str, ...] = (
    "reference", "full_name", "national_id", "email", "phone", "position", "consent",
    "cv_file", "expected",
)


@dataclass(frozen=True)
class Position:
    """An open position applicants can be registered for."""

    code: str
    title: str
    department: str
    closing_date: date


POSITIONS: tuple[Position, ...] = (
    Position("NUR-2026-014", "Registered nurse, surgical ward", "Surgery", date(2026, 5, 31)),
    Position("NUR-2026-021", "Night nurse, geriatrics", "Geriatrics", date(2026, 6, 15)),
    Position("DOC-2026-002", "Specialist physician, radiology", "Radiology", date(2026, 4, 30)),
    Position("ENG-2026-003", "Biomedical engineer", "Medical technology", date(2026, 5, 15)),
    Position("ADM-2026-008", "Payroll officer", "Finance", date(2026, 5, 1)),
    Position("ICT-2026-011", "Service desk technician", "ICT", date(2026, 6, 1)),
    Position("KIT-2026-005", "Cook, central kitchen", "Catering", date(2026, 5, 20)),
)
UNKNOWN_POSITION_CODES: tuple[str, ...] = ("NUR-2025-014", "ENG-2026-030", "ADM-2026-080",
                                           "PHY-2026-001")

_FIRST = ("Kari", "Ola", "Ingrid", "Lars", "Sofie", "Jonas", "Nora", "Emil", "Ida", "Henrik",
          "Maja", "Magnus", "Astrid", "Sindre", "Solveig", "Øystein", "Åse", "Bjørn", "Marit",
          "Håkon", "Fatima", "Ahmed", "Aleksander", "Mona", "Tuva", "Sander", "Linnea", "Thea")
_LAST = ("Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
         "Kristiansen", "Jensen", "Karlsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
         "Dahl", "Jørgensen", "Halvorsen", "Lund", "Sørensen", "Strand", "Moen", "Ali", "Nguyen")
_DOMAINS = ("example.no", "example.com", "eksempel.no")
_ASCII = str.maketrans({"ø": "o", "å": "a", "æ": "ae", "Ø": "O", "Å": "A", "Æ": "AE"})


@dataclass(frozen=True)
class Applicant:
    """One sample applicant (one work item) and the outcome a correct bot reaches."""

    reference: str
    full_name: str
    national_id: str
    email: str
    phone: str
    position: str
    consent: bool
    expected: str


def _phone(rng: random.Random) -> str:
    """A Norwegian mobile number in one of the ways people write them."""
    digits = f"{rng.choice('49')}{rng.randint(0, 9_999_999):07d}"
    style = rng.randrange(4)
    if style == 1:
        return f"+47 {digits}"
    if style == 2:
        return f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return f"+47{digits}" if style == 3 else digits


def _bad_email(rng: random.Random, good: str) -> str:
    """An address with a mistake a form would reject."""
    local, domain = good.split("@")
    return rng.choice((
        f"{local}@{domain.split('.')[0]}",
        f"{local}.{domain}",
        f"{local.replace('.', ' ')}@{domain}",
        f"{local}@@{domain}",
    ))


def _applicant(rng: random.Random, outcome: str, serial: int) -> Applicant:
    """A new person with exactly the problem named by ``outcome`` (or none)."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 16_000))
    nin = make_nin(born, rng, d_number=rng.random() < 0.1)
    email = f"{first}.{last}{serial}@{rng.choice(_DOMAINS)}".lower().translate(_ASCII)
    position = rng.choice(POSITIONS).code
    if outcome == "NIN_INVALID":
        nin = corrupt_nin(nin, rng)
    elif outcome == "EMAIL_INVALID":
        email = _bad_email(rng, email)
    elif outcome == "POSITION_UNKNOWN":
        position = rng.choice(UNKNOWN_POSITION_CODES)
    return Applicant("", f"{first} {last}", nin, email, _phone(rng), position,
                     outcome != "NO_CONSENT", REGISTER if outcome == REGISTER else outcome)


@lru_cache(maxsize=8)
def generate_applicants(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT
                        ) -> tuple[Applicant, ...]:
    """``count`` applicants in work-item order, identical for identical arguments."""
    rng = random.Random(seed)
    per_code = round(count * PROBLEM_SHARE)
    repeats = per_code
    plan = [code for code in RULE_CODES for _ in range(per_code)]
    plan += [REGISTER] * (count - repeats - len(plan))
    rng.shuffle(plan)
    base = [_applicant(rng, outcome, serial) for serial, outcome in enumerate(plan, start=1)]
    registered = [i for i, a in enumerate(base) if a.expected == REGISTER]
    # A few people apply for a second, different position: two valid registrations.
    # (Fewer when a small run has too few registrations to pair: `rpa demo --applicants 3`.)
    pairs = rng.sample(registered, 2 * min(SAME_PERSON_OTHER_POSITION, len(registered) // 2))
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        early, late = sorted((first, second))
        other = rng.choice([p.code for p in POSITIONS if p.code != base[early].position])
        base[late] = replace(base[early], position=other, phone=base[late].phone)
    # Some applicants are sent twice for the same position; the copy comes later.
    keyed: list[tuple[float, Applicant]] = [(float(i), a) for i, a in enumerate(base)]
    originals = rng.sample([i for i in registered if i not in pairs], repeats)
    for index in originals:
        copy = replace(base[index], phone=_phone(rng), expected=ALREADY_REGISTERED)
        keyed.append((rng.uniform(index + 0.5, len(base)), copy))
    keyed.sort(key=lambda pair: pair[0])
    return tuple(
        replace(applicant, reference=f"APPL-{number:04d}")
        for number, (_, applicant) in enumerate(keyed, start=1)
    )


def expected_outcomes(seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> dict[str, str]:
    """Work-item reference → ``"register"``, ``"already_registered"`` or a rule code."""
    return {a.reference: a.expected for a in generate_applicants(seed, count)}


def cv_for(applicant: Applicant) -> bytes:
    """The CV (a small PDF) that goes with an applicant."""
    return make_pdf(f"Curriculum vitae: {applicant.full_name}",
                    (f"Email: {applicant.email}", f"Phone: {applicant.phone}",
                     f"Applying for: {applicant.position}"))


def write_work_items(path: Path | str, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT,
                     cv_dir: Path | str | None = None) -> Path:
    """Write the work-item CSV and one CV PDF per applicant (into ``cv_dir``).

    ``cv_file`` holds the absolute path of the PDF; ``consent`` is ``yes``/``no``.
    The CVs default to a ``cvs`` folder next to the CSV.
    """
    target = Path(path)
    cvs = Path(cv_dir) if cv_dir is not None else target.parent / "cvs"
    cvs.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(WORK_ITEM_COLUMNS)
        for a in generate_applicants(seed, count):
            cv_file = (cvs / f"{a.reference}.pdf").resolve()
            cv_file.write_bytes(cv_for(a))
            writer.writerow((a.reference, a.full_name, a.national_id, a.email, a.phone,
                             a.position, "yes" if a.consent else "no", cv_file, a.expected))
    return target
