"""The recruitment portal: open positions, the applicant form, applicant search.

It behaves like an HR system's intake screen: a strict server-side form with
errors shown next to the fields, a file upload, a duplicate check on national
identity number and position, and a search page a careful bot uses first so that
running a work item twice never registers a person twice.

A repeated registration (same number, same position) answers **HTTP 409** with
the form, the entered values and the message "already registered for this
position (registration number REG-...)".
"""

from __future__ import annotations

from flask import Flask, abort, current_app, jsonify, redirect, render_template, request
from werkzeug.wrappers.response import Response

from targets.control import counters
from targets.misbehave import Misbehaviour
from targets.recruitment_portal.data import POSITIONS, Position
from targets.recruitment_portal.forms import layout, normalise_phone, read_submission, validate
from targets.recruitment_portal.store import AlreadyRegistered, Registration, RegistrationStore
from targets.views import Cell, arrange, details
from targets.web import PortalUser, create_portal_app, flash, layout_changed

_STORE_KEY = "targets.registrations"
_POSITIONS_KEY = "targets.positions"
USERS: dict[str, PortalUser] = {"hr": PortalUser("hr", "hr-pass", "Hanne HR")}
_POSITION_COLUMNS = (("code", "Code"), ("title", "Title"), ("department", "Department"),
                     ("closing", "Closing date"))
_RESULT_COLUMNS = (("number", "Registration number"), ("name", "Full name"),
                   ("position", "Position"), ("registered", "Registered at"))


def _store() -> RegistrationStore:
    """The registrations of the app handling the current request."""
    store: RegistrationStore = current_app.extensions[_STORE_KEY]
    return store


def _positions() -> tuple[Position, ...]:
    """The open positions of the app handling the current request."""
    positions: tuple[Position, ...] = current_app.extensions[_POSITIONS_KEY]
    return positions


def positions_page() -> str:
    """The table of open positions with their codes."""
    rows = [
        {"code": Cell(p.code), "title": Cell(p.title), "department": Cell(p.department),
         "closing": Cell(p.closing_date.isoformat())}
        for p in _positions()
    ]
    return render_template("positions.html", rows=rows,
                           columns=arrange(_POSITION_COLUMNS, layout_changed()))


def _form_page(values: dict[str, str], errors: dict[str, str], summary: str | None = None,
               status: int = 200) -> tuple[str, int]:
    """Render the applicant form with entered values and errors beside the fields."""
    page = render_template(
        "applicant_form.html", fields=layout(layout_changed()), values=values, errors=errors,
        summary=summary, positions=_positions(),
    )
    return page, status


def new_applicant() -> Response | tuple[str, int]:
    """Show the applicant form, or validate and register the applicant."""
    if request.method == "GET":
        return _form_page({}, {})
    submission = read_submission(request.form, request.files)
    errors = validate(submission, frozenset(p.code for p in _positions()))
    if errors:
        return _form_page(submission.values, errors, status=400)
    values = submission.values
    try:
        registration = _store().register(
            full_name=values["full_name"], national_id=values["national_id"].replace(" ", ""),
            email=values["email"], phone=normalise_phone(values["phone"]) or "",
            position=values["position"], cv_filename=submission.cv_filename,
            cv_size=len(submission.cv_bytes),
        )
    except AlreadyRegistered as exc:
        counters().bump("duplicate_attempts")
        message = (f"This person is already registered for this position "
                   f"(registration number {exc.existing.number}).")
        return _form_page(values, {"national_id": message}, summary=message, status=409)
    counters().bump("registrations")
    flash(f"Applicant registered. Registration number: {registration.number}.")
    return redirect(f"/applicants/{registration.number}", code=303)


def applicant_page(number: str) -> str:
    """One registration with its number and details."""
    found = _store().get(number)
    if found is None:
        abort(404, description=f"Applicant {number} was not found.")
    rows: list[tuple[str, str, str] | tuple[str, str, str, str | None]] = [
        ("registration-number", "Registration number", found.number),
        ("full-name", "Full name", found.full_name),
        ("national-id", "National identity number", found.national_id),
        ("email", "Email", found.email),
        ("phone", "Phone", found.phone),
        ("position", "Position", found.position),
        ("cv", "CV", f"{found.cv_filename} ({found.cv_size} bytes)"),
        ("registered-at", "Registered at", found.registered_at.isoformat()),
    ]
    return render_template("applicant.html", registration=found,
                           items=details(rows, layout_changed()))


def _search_args() -> tuple[str, str]:
    """The national identity number and position code searched for."""
    nin = request.args.get("nin", "").replace(" ", "").strip()
    return nin, request.args.get("position", "").strip()


def search_page() -> str:
    """Find registrations by national identity number and, optionally, position."""
    nin, position = _search_args()
    searched = bool(nin or position)
    results = _store().find(nin, position) if searched else []
    rows = [
        {"number": Cell(r.number, href=f"/applicants/{r.number}"), "name": Cell(r.full_name),
         "position": Cell(r.position), "registered": Cell(r.registered_at.isoformat())}
        for r in results
    ]
    return render_template(
        "applicants.html", nin=nin, position=position, searched=searched, rows=rows,
        columns=arrange(_RESULT_COLUMNS, layout_changed()), positions=_positions(),
    )


def _as_json(r: Registration) -> dict[str, str]:
    """A registration for the JSON API."""
    return {"registration_number": r.number, "full_name": r.full_name,
            "national_id": r.national_id, "position": r.position,
            "registered_at": r.registered_at.isoformat()}


def api_search() -> Response:
    """The search as JSON: ``{"applicants": [...]}``."""
    nin, position = _search_args()
    found = _store().find(nin, position) if nin or position else []
    return jsonify({"applicants": [_as_json(r) for r in found]})


def create_app(misbehaviour: Misbehaviour | None = None,
               positions: tuple[Position, ...] = POSITIONS) -> Flask:
    """Build the portal with no registrations yet."""
    app = create_portal_app(
        __name__,
        title="Recruitment Portal",
        users=USERS,
        cookie_name="recruitment_portal_session",
        home="/positions",
        nav=(("Positions", "/positions"), ("Register applicant", "/applicants/new"),
             ("Find applicants", "/applicants")),
        misbehaviour=misbehaviour,
    )
    app.extensions[_STORE_KEY] = RegistrationStore()
    app.extensions[_POSITIONS_KEY] = positions
    app.add_url_rule("/positions", view_func=positions_page)
    app.add_url_rule("/applicants", view_func=search_page)
    app.add_url_rule("/applicants/new", view_func=new_applicant, methods=["GET", "POST"])
    app.add_url_rule("/applicants/<number>", view_func=applicant_page)
    app.add_url_rule("/api/applicants", view_func=api_search)
    return app
