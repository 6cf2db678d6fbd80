"""Register job applicants in the recruitment portal, exactly once per person and position.

An HR clerk checks an application before typing it in: is the national identity
number real, is the email an address, did the applicant consent, is the position
open? The bot does the same before it submits anything, so a bad application is
stopped with a clear code instead of a form full of red text, and no personal
datum of a refused applicant reaches the portal.

Registering is not naturally idempotent, so the bot searches first (national
identity number and position) and reports an existing registration as done with
status `already_registered`; the portal's own duplicate answer (HTTP 409, when
two items for one person race) is read the same way. Error messages name the
problem, never the applicant's number or address: they end up in the audit log.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from playwright.async_api import Page
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bots import Bot, BotContext, BusinessRuleError
from bots.builtin import _portal as portal

DEFAULT_CREDENTIAL = "recruitment-portal"
MAX_CV_BYTES = 2 * 1024 * 1024
CONSENT_LABEL = "I consent to the processing of my personal data for this recruitment"
CV_LABEL = "CV (PDF, max 2 MB)"
REGISTRATION = re.compile(r"REG-\d{4}-\d+")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
"""name@domain.tld: what the portal accepts, checked before submitting."""
PHONE = re.compile(r"^(?:\+47|0047)?(\d{8})$")
"""A Norwegian number once spaces and dashes are gone: 8 digits, optionally after +47."""
K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
TRUE_WORDS = frozenset({"yes", "y", "ja", "j", "true", "1", "on", "x"})
FALSE_WORDS = frozenset({"no", "n", "nei", "false", "0", "off", ""})

NIN_INVALID = "NIN_INVALID"
EMAIL_INVALID = "EMAIL_INVALID"
NO_CONSENT = "NO_CONSENT"
POSITION_UNKNOWN = "POSITION_UNKNOWN"
PHONE_INVALID = "PHONE_INVALID"
CV_MISSING = "CV_MISSING"
CV_INVALID = "CV_INVALID"
FORM_REJECTED = "FORM_REJECTED"
# Which code a portal-side field error maps to, by the field's label.
FIELD_CODES = (("National identity number", NIN_INVALID), ("Email", EMAIL_INVALID),
               ("I consent", NO_CONSENT), ("Position", POSITION_UNKNOWN),
               ("Phone", PHONE_INVALID), ("CV", CV_INVALID))


class ApplicantInput(BaseModel):
    """One application as HR receives it; checked by the bot, not by this model.

    The model only shapes the data (spaces out of the number, yes/no to a
    bool); whether the number, address or position is valid is a business rule
    with its own code, so it is left to `handle`.
    """

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    full_name: str = Field(min_length=1, max_length=200)
    national_id: str = Field(description="11 digits: fødselsnummer or D-number")
    email: str
    phone: str | None = None
    position: str = Field(min_length=1, description="position code, e.g. NUR-2026-014")
    consent: bool = Field(default=False, description="yes/no")
    cv_file: str | None = Field(default=None, description="path of the CV (PDF)")

    @field_validator("national_id", mode="before")
    @classmethod
    def _digits_only(cls, value: Any) -> Any:
        return re.sub(r"[\s.-]", "", value) if isinstance(value, str) else value

    @field_validator("consent", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if value is None:
            return False
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        return value

    @field_validator("phone", "cv_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class ApplicantOutput(BaseModel):
    """The registration: `status` is `registered` (by this attempt) or `already_registered`."""

    registration_number: str
    position: str
    status: Literal["registered", "already_registered"]


def _mod11(digits: list[int], weights: tuple[int, ...]) -> int | None:
    check = (11 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 11) % 11
    return None if check == 10 else check


def nin_problem(value: str) -> str | None:
    """Why `value` is not a Norwegian national identity number, or None if it is one.

    Checks length, the birth date (D-numbers add 40 to the day; the individual
    number gives the century) and both mod-11 check digits.
    """
    if len(value) != 11 or not value.isdigit():
        return "a national identity number has exactly 11 digits"
    digits = [int(c) for c in value]
    k1 = _mod11(digits[:9], K1_WEIGHTS)
    k2 = None if k1 is None else _mod11([*digits[:9], k1], K2_WEIGHTS)
    if k1 is None or k2 is None or [k1, k2] != digits[9:]:
        return "the check digits do not match (a typing error?)"
    day, month, year, individual = (int(value[0:2]), int(value[2:4]), int(value[4:6]),
                                    int(value[6:9]))
    if day > 40:  # D-number
        day -= 40
    if individual <= 499:
        century = 1900
    elif individual <= 749 and year >= 54:
        century = 1800
    elif year <= 39:
        century = 2000
    elif individual >= 900:
        century = 1900
    else:
        return "the individual number does not fit the birth year"
    try:
        date(century + year, month, day)
    except ValueError:
        return "the first six digits are not a valid birth date"
    return None


def _phone_digits(raw: str | None) -> str | None:
    match = PHONE.match(re.sub(r"[\s-]", "", raw or ""))
    return match.group(1) if match else None


class ApplicantRegistrationBot(Bot):
    """Checks an application, searches for an earlier registration, then registers."""

    name = "applicant-registration"
    description = ("Registers job applicants in the recruitment portal after checking the "
                   "national identity number, email, consent and position; never registers "
                   "a person twice for one position.")
    Input = ApplicantInput
    Output = ApplicantOutput
    reuse_context = True
    item_timeout = 30.0

    async def login(self, page: Page, ctx: BotContext) -> None:
        """Log in as the HR user."""
        await portal.log_in(page, ctx, default_credential=DEFAULT_CREDENTIAL)

    async def handle(self, item: ApplicantInput, page: Page,
                     ctx: BotContext) -> ApplicantOutput:
        """Check, look for an earlier registration, register and read the number back."""
        cv = self._check(item, ctx)
        base = portal.base_url(ctx)
        existing = await portal.retrying(
            ctx, lambda: self._find(page, base, item.national_id, item.position))
        if existing is not None:
            ctx.log.info("applicant.already_registered", registration=existing)
            return ApplicantOutput(registration_number=existing, position=item.position,
                                   status="already_registered")
        await portal.retrying(ctx, lambda: self._open_form(page, base))
        options = await self._positions(page)
        if item.position not in options:
            raise BusinessRuleError(f"position {item.position} is not open for applications "
                                    f"(open: {', '.join(sorted(options)) or 'none'})",
                                    POSITION_UNKNOWN)
        return await self._register(item, cv, page)

    # -- before the portal ---------------------------------------------------------------
    @staticmethod
    def _check(item: ApplicantInput, ctx: BotContext) -> Path:
        """The rules a clerk checks on paper; returns the CV's path."""
        problem = nin_problem(item.national_id)
        if problem:
            raise BusinessRuleError(f"national identity number: {problem}", NIN_INVALID)
        if not EMAIL.match(item.email):
            raise BusinessRuleError("the email address is not valid (expected "
                                    "name@domain.tld)", EMAIL_INVALID)
        if not item.consent:
            raise BusinessRuleError("the applicant has not consented to the processing of "
                                    "their personal data", NO_CONSENT)
        if _phone_digits(item.phone) is None:
            raise BusinessRuleError("the phone number is missing or not an 8-digit Norwegian "
                                    "number", PHONE_INVALID)
        if not item.cv_file:
            raise BusinessRuleError("no CV file was given", CV_MISSING)
        cv = Path(item.cv_file)
        if not cv.is_absolute() and ctx.config.get("cv_dir"):
            cv = Path(str(ctx.config["cv_dir"])) / cv
        if not cv.is_file():
            raise BusinessRuleError("the CV file named in the item does not exist", CV_MISSING)
        with cv.open("rb") as handle:
            head = handle.read(5)
        if head != b"%PDF-" or cv.stat().st_size > MAX_CV_BYTES:
            raise BusinessRuleError("the CV must be a PDF file of at most 2 MB", CV_INVALID)
        return cv

    # -- in the portal -------------------------------------------------------------------
    async def _find(self, page: Page, base: str, nin: str, position: str) -> str | None:
        """The registration number of this person for this position, if there is one."""
        query = urlencode({"nin": nin, "position": position})
        status = await portal.open_page(page, f"{base}/applicants?{query}",
                                        "searching for the applicant")
        if status != 200:
            raise portal.UnexpectedPage(f"the applicant search answered HTTP {status}")
        results = page.get_by_role("link", name=REGISTRATION)
        nothing = page.get_by_role("status").filter(has_text="No applicants found")
        await results.or_(nothing).first.wait_for()
        if await nothing.count():
            return None
        for row in await page.get_by_role("row").filter(has=results).all():
            # the portal filters by position already; the row must say so too
            if position in await row.inner_text():
                return (await row.get_by_role("link", name=REGISTRATION).inner_text()).strip()
        return None

    @staticmethod
    async def _open_form(page: Page, base: str) -> None:
        status = await portal.open_page(page, f"{base}/applicants/new",
                                        "opening the applicant form")
        if status != 200:
            raise portal.UnexpectedPage(f"the applicant form answered HTTP {status}")

    @staticmethod
    async def _positions(page: Page) -> set[str]:
        """The position codes the form's Position list offers."""
        select = page.get_by_label("Position", exact=True)
        values: list[str] = await select.evaluate(
            "select => Array.from(select.options, option => option.value)")
        return {v for v in values if v}

    async def _register(self, item: ApplicantInput, cv: Path, page: Page) -> ApplicantOutput:
        """Fill the form by label, submit once, and read the outcome.

        Never retried in place: after a gateway error the registration may or may
        not exist, and the next attempt's search tells which.
        """
        await page.get_by_label("Full name", exact=True).fill(item.full_name)
        await page.get_by_label("National identity number", exact=True).fill(item.national_id)
        await page.get_by_label("Email", exact=True).fill(item.email)
        await page.get_by_label("Phone", exact=True).fill(item.phone or "")
        await page.get_by_label("Position", exact=True).select_option(value=item.position)
        await page.get_by_label(CV_LABEL, exact=True).set_input_files(cv)
        await page.get_by_role("checkbox", name=CONSENT_LABEL, exact=True).set_checked(True)
        status = await portal.submit(
            page, page.get_by_role("button", name="Register applicant", exact=True),
            "registering the applicant")
        if status == 409:
            found = REGISTRATION.search(await portal.alert_text(page))
            if found is None:
                raise portal.UnexpectedPage("the portal refused a duplicate without naming "
                                            "the registration")
            return ApplicantOutput(registration_number=found.group(0),
                                   position=item.position, status="already_registered")
        if status == 400:
            raise await self._form_errors(page)
        if status != 200:
            problem = await portal.alert_text(page)
            raise portal.UnexpectedPage(f"registering answered HTTP {status}"
                                        f"{': ' + problem if problem else ''}")
        number = await portal.value_of(page, "Registration number")
        if not REGISTRATION.fullmatch(number):
            raise portal.UnexpectedPage(f"after registering, the page shows no registration "
                                        f"number (found {number!r})")
        return ApplicantOutput(registration_number=number, position=item.position,
                               status="registered")

    @staticmethod
    async def _form_errors(page: Page) -> BusinessRuleError:
        """The portal refused the form: a business error named after the first bad field."""
        summary = page.get_by_role("alert")
        messages = [m.strip() for m in await summary.get_by_role("listitem").all_inner_texts()]
        for label, code in FIELD_CODES:
            for message in messages:
                if message.startswith(label):
                    return BusinessRuleError(f"the portal refused the form: {message}", code)
        return BusinessRuleError("the portal refused the form: "
                                 f"{'; '.join(messages) or await portal.alert_text(page)}",
                                 FORM_REJECTED)
