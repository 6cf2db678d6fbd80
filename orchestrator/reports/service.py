"""The glue between the store and the report arithmetic: what the CLI (and the bench) call.

Each report is one read transaction on the store's database (``repository``): the ledger query over
the audit log (``ledger``), then the pure modules (``hours``, ``allocation``,
``candidates``) and a generic ``export.Report`` for the terminal, JSON, CSV,
XLSX and charts. Nothing here formats output; that is the CLI's job.

Where settings come from, highest first:

* costs file: ``--costs FILE``, ``RPA_COSTS_FILE`` (``Settings.costs_file``),
  ``config/costs.yaml`` in the working directory, the example packaged with the
  project (``default_costs.yaml``, identical to ``config/costs.yaml``), so that
  ``rpa demo`` followed by ``rpa report costs`` shows a real allocation anywhere.
* FTE hours per year: ``--fte-hours``, ``RPA_FTE_HOURS_PER_YEAR`` (when set),
  the costs file's ``fte_hours_per_year``, 1,695.
* hourly rate: ``--hourly-rate``, the costs file's ``hourly_rate``.
* time zone: ``Settings.timezone`` (report periods are local calendar periods).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from orchestrator.i18n import _
from orchestrator.organisation import Organisation
from orchestrator.reports.allocation import AllocationResult, CostLine, RollupKey, allocate
from orchestrator.reports.candidates import (
    Candidate,
    CandidateError,
    CandidateScore,
    Stability,
    rank_candidates,
)
from orchestrator.reports.costs_config import CostsConfig, load_costs
from orchestrator.reports.export import Report
from orchestrator.reports.hours import (
    DAYS_PER_YEAR,
    DEFAULT_FTE_HOURS_PER_YEAR,
    ORG_LEVELS,
    GroupBy,
    HoursReport,
    ProcessUsage,
    hours_rollup,
)
from orchestrator.reports.ledger import (
    Ledger,
    LedgerRow,
    read_ledger,
    registered_processes,
    sum_rows,
)
from orchestrator.reports.money import format_number
from orchestrator.reports.periods import Period, PeriodError, parse_period
from orchestrator.reports.render import costs_to_report, hours_to_report, monthly_to_report
from orchestrator.reports.repository import ReportRepository
from orchestrator.settings import Settings
from queues import Store

DEFAULT_COSTS_FILE = Path(__file__).with_name("default_costs.yaml")
LOCAL_COSTS_FILE = Path("config") / "costs.yaml"
DEFAULT_PERIOD = "this-year"


# -- plumbing --------------------------------------------------------------------------
@contextmanager
def reading(store: Store, action: str) -> Iterator[sa.Connection]:
    """One read-only transaction on the store's database (see `ReportRepository`)."""
    with ReportRepository.of(store).reading(action) as conn:
        yield conn


def zone(settings: Settings | None) -> ZoneInfo:
    """The time zone report periods are read in (``RPA_TIMEZONE``)."""
    name = settings.timezone if settings is not None else "Europe/Oslo"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"RPA_TIMEZONE {name!r} is not an IANA time zone like "
                          "Europe/Oslo") from None


def as_period(period: str | Period | None, settings: Settings | None = None,
              today: date | None = None) -> Period:
    """A ``Period`` from its text (default: this year) in the configured zone."""
    if isinstance(period, Period):
        return period
    return parse_period(period or DEFAULT_PERIOD, zone(settings), today)


# -- costs file and FTE hours ---------------------------------------------------------
@dataclass(frozen=True)
class CostsSource:
    """The costs file in force and why it was chosen (shown in the report's method)."""

    path: Path
    origin: str

    def load(self) -> CostsConfig:
        return load_costs(self.path)


def resolve_costs_file(explicit: Path | None = None, settings: Settings | None = None,
                       cwd: Path | None = None) -> CostsSource:
    """The costs file to use; see the module docstring for the order."""
    if explicit is not None:
        return CostsSource(Path(explicit), "--costs")
    if settings is not None and settings.costs_file is not None:
        return CostsSource(Path(settings.costs_file), "RPA_COSTS_FILE")
    local = (cwd or Path.cwd()) / LOCAL_COSTS_FILE
    if local.is_file():
        return CostsSource(local, "config/costs.yaml in the working directory")
    return CostsSource(DEFAULT_COSTS_FILE, "the example packaged with rpa")


def _plain(value: Decimal | float) -> Decimal:
    """``1695.0`` -> ``Decimal("1695")``: whole numbers print without a spurious ``.0``."""
    number = Decimal(str(value))
    return number.to_integral_value() if number == number.to_integral_value() else number


def resolve_fte_hours(explicit: Decimal | float | None, settings: Settings | None,
                      costs: CostsSource | None) -> tuple[Decimal, str]:
    """FTE hours per year and where the figure came from."""
    if explicit is not None:
        return _plain(explicit), "--fte-hours"
    if settings is not None and "fte_hours_per_year" in settings.model_fields_set:
        return _plain(settings.fte_hours_per_year), "RPA_FTE_HOURS_PER_YEAR"
    if costs is not None:
        return costs.load().fte_hours_per_year, str(costs.path)
    return DEFAULT_FTE_HOURS_PER_YEAR, "the default"


def _with_method(report: Report, extra: list[str]) -> Report:
    return dataclasses.replace(report, method="\n".join([report.method, *extra]))


def _negative_notes(ledger: Ledger) -> list[str]:
    return [
        _("{process}: business exceptions took {hours} hours more than the robot freed; the "
          "net is negative, and costs value it as 0 freed hours.").format(
              process=process, hours=format_number(-minutes / 60, 2))
        for process, minutes in ledger.negative()
    ]


def source_note() -> str:
    return _(
        "Source: the audit log and the review tasks. item.completed credits the process's "
        "manual minutes per item as configured when the item was done (gross). Every business "
        "exception and dead item opens a review task; its resolution records the minutes a "
        "person spent, counted in the month the task opened. Until it is resolved, a business "
        "exception counts the exception minutes configured then, marked as estimated. Net = "
        "gross - review. Changing a process later does not change an earlier period.")


# -- hours -------------------------------------------------------------------------------
@dataclass(frozen=True)
class HoursOutcome:
    """The freed-hours report, the ledger behind it, and its notes."""

    ledger: Ledger
    report: HoursReport
    fte_source: str
    roll: OrgRollup | None = None

    @property
    def period(self) -> Period:
        return self.ledger.period

    @property
    def warnings(self) -> list[str]:
        return _negative_notes(self.ledger)

    def table(self) -> Report:
        """The generic table (terminal, JSON, CSV, XLSX) with the full method text."""
        return _with_method(hours_to_report(self.report), [
            source_note(),
            _("Owner and cost centre are those recorded in each event, so a process handed "
              "over during the period counts under each owner for its own share."),
            *self._org_note(),
            _("FTE hours per year: {hours} (from {source}).").format(
                hours=self.report.fte_hours_per_year, source=self.fte_source),
            *self.warnings,
        ])

    def _org_note(self) -> list[str]:
        if self.roll is None:
            return []
        level = _(self.roll.level)
        if not self.roll.trees:
            return [_("No organisation is loaded: each owner is its own {level}.").format(
                level=level)]
        if self.roll.fixed is not None:
            return [_("Owners are rolled up to {level} under one organisation, the one in "
                      "force on the --as-of date, for the whole period.").format(level=level)]
        return [_("Owners are rolled up to {level} under the organisation in force when each "
                  "event happened, so moving a unit does not change an earlier period; "
                  "--as-of DATE rolls everything up under the tree of that date.").format(
                      level=level)]

    def per_month(self) -> list[tuple[str, str, LedgerRow]]:
        """(group, month, figures) for every group and month with events, in order.

        The ledger must have been read with ``monthly=True``.
        """
        if self.ledger.pieces is None:
            raise ValueError("read the ledger with monthly=True for figures per month")
        by = self.report.group_by
        sums: dict[tuple[str, str], list[LedgerRow]] = {}
        for label, start, row in self.ledger.pieces:
            if self.roll is not None:
                key = self.roll.key(row.owner, start)
            else:
                key = getattr(row, "cost_centre" if by in ("cost-centre", "cost_centre")
                              else by)
            sums.setdefault((key, label), []).append(row)
        return [(key, label, sum_rows(rows)) for (key, label), rows in
                sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1]))]

    def monthly_table(self) -> Report:
        """Gross, review and net per group and month: the table, CSV and XLSX of
        ``--per-month``."""
        return _with_method(monthly_to_report(self.report, self.per_month()), [
            source_note(), *self._org_note(), *self.warnings])

    def net_by_month(self) -> list[tuple[str, float, float, float]]:
        """(month, gross, review, net) hours, the months with figures, for the chart."""
        sums: dict[str, list[Decimal]] = {m.label: [Decimal(0)] * 3
                                          for m in self.period.months()}
        for label, _start, row in self.ledger.pieces or ():
            cell = sums.setdefault(label, [Decimal(0)] * 3)
            cell[0] += row.gross_minutes / 60
            cell[1] += row.review_minutes / 60
            cell[2] += (row.gross_minutes - row.review_minutes) / 60
        rows = [(label, float(g), float(r), float(n)) for label, (g, r, n) in sums.items()]
        busy = [i for i, (_, g, r, _) in enumerate(rows) if g or r]
        return rows[busy[0]:busy[-1] + 1] if busy else []

    def hours_by_month(self) -> dict[str, dict[str, Decimal]]:
        """Net freed hours per month per owner (or node of the level), for the chart."""
        if self.roll is not None:
            return self.roll.by_month(self.ledger)
        return self.ledger.monthly_hours("owner")


def hours_report(store: Store, period: str | Period | None = None, *,
                 by: GroupBy = "owner", fte_hours_per_year: Decimal | float | None = None,
                 settings: Settings | None = None, costs_file: Path | None = None,
                 monthly: bool = False, today: date | None = None,
                 as_of: date | None = None) -> HoursOutcome:
    """Gross, review and net freed hours for a period, grouped by owner, process, cost
    centre, or a level of the organisation tree (unit, department, sector).

    A level rolls each event's owner (as recorded) up under the tree in force when
    the event happened, so moving a unit never changes an earlier period; with
    ``as_of``, under the tree in force on that date instead.
    """
    span = as_period(period, settings, today)
    costs = None
    if fte_hours_per_year is None and not (
            settings is not None and "fte_hours_per_year" in settings.model_fields_set):
        costs = resolve_costs_file(costs_file, settings)
    fte, source = resolve_fte_hours(fte_hours_per_year, settings, costs)
    roll = OrgRollup.of(store, by, as_of, zone(settings)) if by in ORG_LEVELS else None
    with reading(store, "read the freed-hours ledger") as conn:
        ledger = read_ledger(conn, span, monthly=monthly,
                             splits=roll.splits() if roll else None)
    if roll is not None:
        rows = roll.rows(ledger)
    else:
        rows = ledger.by_process() if by == "process" else ledger.segments()
    report = hours_rollup(rows, by, span, fte_hours_per_year=fte)
    return HoursOutcome(ledger, report, source, roll)


def level_in(tree: Organisation, level: str) -> str:
    """`--by unit|department|sector` in a tree whose levels may have other names:
    sector is the top level, unit the lowest, department the one above the lowest."""
    if level in tree.levels:
        return level
    index = {"sector": 0, "department": -2, "unit": -1}[level]
    return tree.levels[max(index, -len(tree.levels))]


@dataclass(frozen=True)
class OrgRollup:
    """Owners rolled up to a level of the organisation tree, version by version."""

    level: str
    trees: tuple[tuple[float, Organisation], ...]  # (in force from, tree), oldest first
    fixed: Organisation | None  # --as-of: this tree for every event

    @classmethod
    def of(cls, store: Store, level: str, as_of: date | None, tz: ZoneInfo) -> OrgRollup:
        versions = store.organisation.versions()
        trees = tuple((v.valid_from, Organisation.from_document(v.document)) for v in versions)
        fixed = None
        if as_of is not None:
            if not trees:
                raise PeriodError("--as-of needs an organisation: rpa org load "
                                  "config/organisation.yaml")
            moment = datetime.combine(as_of + timedelta(days=1), datetime.min.time(),
                                      tz).timestamp()
            fixed = next((t for start, t in reversed(trees) if start < moment), trees[0][1])
        return cls(level, trees, fixed)

    def splits(self) -> list[float]:
        return [] if self.fixed is not None else [start for start, _ in self.trees[1:]]

    def tree_at(self, ts: float) -> Organisation | None:
        if self.fixed is not None:
            return self.fixed
        found = None
        for start, tree in self.trees:
            if start <= ts or found is None:
                found = tree
        return found

    def key(self, owner: str, ts: float) -> str:
        tree = self.tree_at(ts)
        if tree is None or owner not in tree:
            return owner
        return tree.ancestor(owner, level_in(tree, self.level))

    def rows(self, ledger: Ledger) -> list[ProcessUsage]:
        out = [row.usage(self.key(row.owner, start)) for _, start, row in ledger.pieces or ()]
        seen = {row.process for row in ledger.rows}
        now = float("inf")
        out += [ProcessUsage(p.name, self.key(p.owner, now), p.cost_centre, 0, 0, Decimal(0),
                             Decimal(0)) for name, p in sorted(ledger.registered.items())
                if name not in seen]
        return out

    def by_month(self, ledger: Ledger) -> dict[str, dict[str, Decimal]]:
        """Net freed hours per month per node of the level, for the chart (the ledger
        must have been read with ``monthly=True``)."""
        out: dict[str, dict[str, Decimal]] = {m.label: {} for m in ledger.period.months()}
        for label, start, row in ledger.pieces or ():
            name = self.key(row.owner, start)
            out[label][name] = out[label].get(name, Decimal(0)) + row.freed_minutes / 60
        return {label: {k: max(v, Decimal(0)) for k, v in sorted(groups.items())}
                for label, groups in out.items()}


# -- costs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostsOutcome:
    """The cost allocation for a period, with its inputs and notes."""

    ledger: Ledger
    source: CostsSource
    config: CostsConfig
    lines: tuple[CostLine, ...]
    result: AllocationResult
    by: RollupKey
    rate_source: str

    @property
    def period(self) -> Period:
        return self.ledger.period

    @property
    def warnings(self) -> list[str]:
        notes = _negative_notes(self.ledger)
        if not self.lines:
            notes.append(_("{path} has no costs for {period}.").format(
                path=self.source.path, period=self.period.label))
        return notes

    def table(self) -> Report:
        """The generic table with the full method text."""
        report = costs_to_report(self.result, by=self.by, period_label=self.period.label)
        return _with_method(report, [
            _("Costs from {path} ({origin}); hourly rate from {rate}.").format(
                path=self.source.path, origin=self.source.origin, rate=self.rate_source),
            source_note(),
            _("Robot time is the duration of every attempt, failed ones included (completed, "
              "business exception, retry scheduled, dead, lease expired, released)."),
            _("Costs are split per process; a process handed over during the period is shown "
              "under the owner and cost centre of its latest event."),
            *self.warnings,
        ])

    def cost_value(self) -> list[tuple[str, int, int]]:
        """``(process, cost, value)`` per process, largest cost first, for the chart."""
        rows = sorted(self.result.by("process"), key=lambda r: (-r.cost_ore, r.key))
        return [(row.key, row.cost_ore, row.value_ore) for row in rows]

    def hours_by_month(self) -> dict[str, dict[str, Decimal]]:
        return self.ledger.monthly_hours("owner")


def costs_report(store: Store, period: str | Period | None = None, *,
                 by: RollupKey = "process", costs_file: Path | None = None,
                 hourly_rate_ore: int | None = None, settings: Settings | None = None,
                 monthly: bool = False, today: date | None = None) -> CostsOutcome:
    """Split the period's costs over the processes that ran, and value their freed hours."""
    span = as_period(period, settings, today)
    source = resolve_costs_file(costs_file, settings)
    config = source.load()
    lines = tuple(config.lines_for(span))
    with reading(store, "read the cost ledger") as conn:
        ledger = read_ledger(conn, span, monthly=monthly)
    rate = config.hourly_rate_ore if hourly_rate_ore is None else hourly_rate_ore
    result = allocate(lines, ledger.by_process(), hourly_rate_ore=rate)
    rate_source = str(source.path) if hourly_rate_ore is None else "--hourly-rate"
    return CostsOutcome(ledger, source, config, lines, result, by, rate_source)


# -- candidates --------------------------------------------------------------------------
@dataclass(frozen=True)
class Realised:
    """What a linked process freed, annualised: hours x 365.2425 / window days."""

    window: Period
    freed_hours: Decimal
    hours_per_year: Decimal


@dataclass(frozen=True)
class CandidateView:
    """A stored candidate, its score, and (when linked) its realised hours."""

    name: str
    owner: str
    process: str | None
    notes: str
    created_at: float
    scored: CandidateScore
    realised: Realised | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, as everywhere in report JSON."""
        c = self.scored.candidate
        return {
            "name": self.name, "owner": self.owner, "process": self.process,
            "score": self.scored.score,
            "estimated_hours_per_year": f"{self.scored.freed_hours_per_year:.2f}",
            "realised_hours_per_year": None if self.realised is None
            else f"{self.realised.hours_per_year:.2f}",
            "realised_freed_hours": None if self.realised is None
            else f"{self.realised.freed_hours:.2f}",
            "realised_window": None if self.realised is None else self.realised.window.label,
            "volume_per_month": str(c.volume_per_month),
            "minutes_per_item": str(c.minutes_per_item),
            "rule_based_share": str(c.rule_based_share),
            "target_stability": c.target_stability, "digital_input": c.digital_input,
            "components": {k: f"{v:.2f}" for k, v in self.scored.components.items()},
            "notes": self.notes,
        }


def _candidate(row: Mapping[str, Any] | sa.RowMapping) -> Candidate:
    return Candidate(
        name=row["name"],
        volume_per_month=_plain(float(row["volume_per_month"])),
        minutes_per_item=_plain(float(row["minutes_per_item"])),
        rule_based_share=_plain(float(row["rule_based_share"])),
        target_stability=row["target_stability"],
        digital_input=bool(row["digital_input"]),
    )


def _check_process(store: Store, process: str | None) -> None:
    if process is not None:
        store.get_process(process)  # QueueNotFound names the process and the fix


def add_candidate(store: Store, *, name: str, owner: str, volume_per_month: Decimal | float,
                  minutes_per_item: Decimal | float, rule_based_share: Decimal | float,
                  stability: Stability, digital: bool, actor: str, process: str | None = None,
                  notes: str = "") -> CandidateScore:
    """Record a candidate (audited as ``candidate.added``); its score and estimate."""
    if not name.strip() or not owner.strip():
        raise CandidateError("a candidate needs a name and an owner")
    candidate = Candidate(name, Decimal(str(volume_per_month)), Decimal(str(minutes_per_item)),
                          Decimal(str(rule_based_share)), stability, digital)
    scored = rank_candidates([candidate])[0]
    _check_process(store, process)
    values = {"name": name, "owner": owner,
              "volume_per_month": float(candidate.volume_per_month),
              "minutes_per_item": float(candidate.minutes_per_item),
              "rule_based_share": float(candidate.rule_based_share),
              "target_stability": stability, "digital_input": digital,
              "created_at": store.clock(), "process": process, "notes": notes}
    if not ReportRepository.of(store).add_candidate(values):
        raise CandidateError(f"a candidate named {name!r} already exists: see "
                             "`rpa candidates list`")
    store.record_event(actor=actor, action="candidate.added", process=process, details={
        "name": name, "owner": owner, "volume_per_month": str(candidate.volume_per_month),
        "minutes_per_item": str(candidate.minutes_per_item),
        "rule_based_share": str(candidate.rule_based_share), "target_stability": stability,
        "digital_input": digital, "score": scored.score,
        "estimated_hours_per_year": f"{scored.freed_hours_per_year:.2f}"})
    return scored


def link_candidate(store: Store, name: str, process: str, *, actor: str) -> None:
    """Record that a candidate became ``process`` (audited as ``candidate.linked``)."""
    _check_process(store, process)
    if not ReportRepository.of(store).link_candidate(name, process):
        raise CandidateError(f"no candidate named {name!r}: see `rpa candidates list`")
    store.record_event(actor=actor, action="candidate.linked", process=process,
                       details={"name": name, "process": process})


def _default_window(created_at: float, today: date, tz: ZoneInfo) -> Period:
    """The last 12 months up to today, or since the process was registered if later."""
    start = today.replace(year=today.year - 1) + timedelta(days=1) if not (
        today.month == 2 and today.day == 29) else date(today.year - 1, 3, 1)
    registered = datetime.fromtimestamp(created_at, tz).date()
    first = min(max(start, registered), today)
    return parse_period(f"{first.isoformat()}..{today.isoformat()}", tz)


def list_candidates(store: Store, *, period: str | Period | None = None,
                    settings: Settings | None = None,
                    today: date | None = None) -> list[CandidateView]:
    """Every candidate, best first, with realised hours where linked to a process.

    Realised hours per year are the linked process's freed hours in ``period``
    (default: the last 12 months, or since the process was registered if that
    is later) times 365.2425 / the window's days.
    """
    tz = zone(settings)
    day = today or datetime.now(tz).date()
    fixed = None if period is None else as_period(period, settings, day)
    with reading(store, "list candidates") as conn:
        rows = ReportRepository.candidates(conn)
        registered = registered_processes(conn)
        realised: dict[str, Realised] = {}
        for process in sorted({r["process"] for r in rows if r["process"]}):
            if process not in registered:
                continue
            window = fixed or _default_window(registered[process].created_at, day, tz)
            ledger = read_ledger(conn, window, only=[process])
            usage = next(u for u in ledger.by_process() if u.process == process)
            hours = usage.freed_minutes / 60
            realised[process] = Realised(window, hours,
                                         hours * DAYS_PER_YEAR / Decimal(window.days.numerator)
                                         * Decimal(window.days.denominator))
    by_name = {r["name"]: r for r in rows}
    ranked = rank_candidates(_candidate(r) for r in rows)
    views = []
    for scored in ranked:
        r = by_name[scored.candidate.name]
        views.append(CandidateView(
            r["name"], r["owner"], r["process"], r["notes"], float(r["created_at"]), scored,
            realised.get(r["process"]) if r["process"] else None))
    return views
