"""The applicant form: its fields, both layouts, and server-side validation.

The form is where layout changes hurt bots most, so the field list is data:
``changed_layout`` reorders it and swaps every ``id``/``name`` for an opaque one
while the visible labels stay, and the server accepts either naming so a form
loaded just before a switch still submits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from werkzeug.datastructures import FileStorage, ImmutableMultiDict

from targets.recruitment_portal.nin import nin_problem
from targets.views import element_id

MAX_CV_BYTES = 2 * 1024 * 1024
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
"""What the portal accepts as an email address; a bot should use the same check."""
PHONE_PATTERN = re.compile(r"^(?:\+47|0047)?(\d{8})$")
"""A Norwegian phone number once spaces are removed: 8 digits, optionally after +47."""


@dataclass(frozen=True)
class FieldSpec:
    """One input of the form; ``key`` is also its ``id``/``name`` in the normal layout."""

    key: str
    label: str
    kind: str  # text | email | tel | select | checkbox | file
    hint: str = ""
    autocomplete: str = "off"


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("full_name", "Full name", "text", autocomplete="name"),
    FieldSpec("national_id", "National identity number", "text",
              hint="11 digits: fødselsnummer or D-number."),
    FieldSpec("email", "Email", "email", autocomplete="email"),
    FieldSpec("phone", "Phone", "tel", hint="8 digits, optionally starting with +47.",
              autocomplete="tel"),
    FieldSpec("position", "Position", "select"),
    FieldSpec("cv", "CV (PDF, max 2 MB)", "file"),
    FieldSpec("consent", "I consent to the processing of my personal data for this recruitment",
              "checkbox"),
)
_CHANGED_ORDER = ("position", "email", "full_name", "phone", "consent", "national_id", "cv")


@dataclass(frozen=True)
class RenderedField:
    """A field as one layout renders it."""

    spec: FieldSpec
    id: str

    @property
    def name(self) -> str:
        """The ``name`` attribute; the same as the ``id`` in both layouts."""
        return self.id


def layout(changed: bool) -> list[RenderedField]:
    """The fields in the order and with the ids of the normal or the changed layout."""
    if not changed:
        return [RenderedField(spec, spec.key) for spec in FIELDS]
    by_key = {spec.key: spec for spec in FIELDS}
    return [RenderedField(by_key[key], element_id(key, True)) for key in _CHANGED_ORDER]


@dataclass
class Submission:
    """What was posted: text values (kept for re-display), the CV and the errors found."""

    values: dict[str, str]
    cv_filename: str = ""
    cv_bytes: bytes = b""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def consent(self) -> bool:
        """True when the consent box was ticked."""
        return bool(self.values.get("consent"))


def _posted(data: Mapping[str, object], key: str) -> object | None:
    """The value under the normal name, else under the changed layout's name."""
    value = data.get(key)
    return value if value else data.get(element_id(key, True))


def read_submission(form: ImmutableMultiDict[str, str],
                    files: ImmutableMultiDict[str, FileStorage]) -> Submission:
    """Collect the posted values under either layout's names."""
    values = {
        spec.key: str(_posted(form, spec.key) or "").strip()
        for spec in FIELDS if spec.kind != "file"
    }
    upload = _posted(files, "cv")
    if isinstance(upload, FileStorage) and upload.filename:
        return Submission(values, upload.filename, upload.stream.read(MAX_CV_BYTES + 1))
    return Submission(values)


def _cv_problem(submission: Submission) -> str | None:
    """Why the CV is not acceptable, or ``None``."""
    if not submission.cv_filename:
        return "Attach the applicant's CV as a PDF file."
    if not submission.cv_bytes.startswith(b"%PDF-"):
        return "The CV must be a PDF file."
    if len(submission.cv_bytes) > MAX_CV_BYTES:
        return "The CV must be 2 MB or smaller."
    return None


def normalise_phone(raw: str) -> str | None:
    """The 8 national digits of a phone number, or ``None`` if it is not one."""
    match = PHONE_PATTERN.match(re.sub(r"[\s-]", "", raw))
    return match.group(1) if match else None


def validate(submission: Submission, position_codes: frozenset[str]) -> dict[str, str]:
    """Check every field, store the error messages on ``submission`` and return them."""
    values, errors = submission.values, submission.errors
    if len(values["full_name"]) < 2:
        errors["full_name"] = "Enter the applicant's full name."
    problem = nin_problem(values["national_id"].replace(" ", ""))
    if problem:
        errors["national_id"] = problem
    if not EMAIL_PATTERN.match(values["email"]):
        errors["email"] = "Enter a valid email address, like name@example.no."
    if normalise_phone(values["phone"]) is None:
        errors["phone"] = "Enter an 8-digit Norwegian phone number, optionally with +47."
    if values["position"] not in position_codes:
        errors["position"] = "Choose one of the open positions."
    cv_problem = _cv_problem(submission)
    if cv_problem:
        errors["cv"] = cv_problem
    if not submission.consent:
        errors["consent"] = "The applicant must consent before they can be registered."
    return errors
