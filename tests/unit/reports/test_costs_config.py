"""costs.yaml: the example file, pro-rating, and errors that name the key path."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.reports.costs_config import CostsConfigError, load_costs
from orchestrator.reports.periods import ReportError, parse_period

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "costs.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costs.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_example_file_loads() -> None:
    config = load_costs(EXAMPLE)
    assert config.currency == "NOK"
    assert config.hourly_rate_ore == 65_000
    assert config.fte_hours_per_year == 1695
    processes = {line.process for p in config.periods for line in p.lines if line.process}
    assert processes == {"invoice-approval", "applicant-registration"}


def test_example_pro_rated_to_a_quarter() -> None:
    # 2026-Q3 is 92 of 2026's 365 days and 92 of 2026-H2's 184 days:
    #   1 200 000,00 x 92/365 = 302 465,753... -> 302 465,75
    #     300 000,00 x 92/365 =  75 616,438... ->  75 616,44
    #      50 000,00 x 92/365 =  12 602,739... ->  12 602,74
    #      80 000,00 x 92/184 =  40 000,00
    lines = load_costs(EXAMPLE).lines_for(parse_period("2026-Q3"))
    assert [(line.name, line.amount_ore) for line in lines] == [
        ("Platform licence", 30_246_575),
        ("Operations (servers, support)", 7_561_644),
        ("Extra licence for the invoice bot", 1_260_274),
        ("Rebuild after recruitment portal upgrade", 4_000_000),
    ]
    assert lines[0].note == "1 200 000,00 for 2026 x 92/365 days = 302 465,75"
    assert lines[2].process == "invoice-approval"


def test_example_whole_year_and_uncovered_year() -> None:
    config = load_costs(EXAMPLE)
    year = config.lines_for(parse_period("2026"))
    assert sum(line.amount_ore for line in year) == (1_200_000 + 300_000 + 50_000 + 80_000) * 100
    assert year[0].note == ""  # the full amount, nothing pro-rated
    assert config.lines_for(parse_period("2025")) == []
    # H1 does not touch the H2 project
    assert len(config.lines_for(parse_period("2026-H1"))) == 3


def test_pro_rating_rounds_half_even(tmp_path: Path) -> None:
    # 0,01 and 0,03 over 2 days, reported for 1 day: 0.5 -> 0 and 1.5 -> 2 øre.
    path = write(
        tmp_path,
        """\
        hourly_rate: 650
        periods:
          - period: 2026-01-01..2026-01-02
            lines:
              - {name: a, amount: "0.01", driver: equal}
              - {name: b, amount: "0.03", driver: equal}
        """,
    )
    lines = load_costs(path).lines_for(parse_period("2026-01-01"))
    assert [line.amount_ore for line in lines] == [0, 2]


def test_lines_from_several_periods_merge_or_get_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        hourly_rate: "650.00"
        periods:
          - period: 2025
            lines:
              - {name: Licence, amount: "365000.00", driver: robot_minutes}
              - {name: Ops, amount: "365.00", driver: equal}
          - period: 2026
            lines:
              - {name: Licence, amount: "730000.00", driver: robot_minutes}
              - {name: Ops, amount: "730.00", driver: items_done}
        """,
    )
    # December 2025 + January 2026: 31/365 of each year's lines.
    # Licence: 31 000 + 62 000 = 93 000 NOK in one line; Ops changed driver -> two lines.
    lines = load_costs(path).lines_for(parse_period("2025-12-01..2026-01-31"))
    assert [(line.name, line.amount_ore) for line in lines] == [
        ("Licence", 9_300_000),
        ("Ops (2025)", 3_100),
        ("Ops (2026)", 6_200),
    ]
    assert "; " in lines[0].note


def test_unquoted_numbers_and_dates_are_read_exactly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        hourly_rate: 650.5
        fte_hours_per_year: 1700
        timezone: UTC
        periods:
          - period: 2026-10-01
            lines:
              - {name: a, amount: 1200000.10, driver: equal}
              - {name: b, amount: 1 000, driver: direct, process: p}
        """,
    )
    config = load_costs(path)
    assert config.hourly_rate == Decimal("650.5")
    assert config.periods[0].period == "2026-10-01"
    assert [line.amount_ore for line in config.periods[0].lines] == [120_000_010, 100_000]
    assert config.cost_periods()[0][0].start.utcoffset() is not None


def problems_of(tmp_path: Path, text: str) -> tuple[str, dict[str, str]]:
    with pytest.raises(CostsConfigError) as caught:
        load_costs(write(tmp_path, text))
    assert isinstance(caught.value, ReportError)
    return str(caught.value), dict(caught.value.problems)


def test_errors_name_file_key_path_line_and_expectation(tmp_path: Path) -> None:
    message, problems = problems_of(
        tmp_path,
        """\
        currency: NOK
        hourly_rate: "650.00"
        periods:
          - period: 2026
            lines:
              - name: Platform licence
                amount: "1200000.00"
                driver: robot_minutes
          - period: 2026-Q5
            lines:
              - name: Operations
                amount: "12.345"
                driver: robot_minute
                colour: red
              - name: OCR
                amount: "5.00"
                driver: direct
        """,
    )
    assert message.startswith(f"{tmp_path / 'costs.yaml'}: 5 problems:")
    assert "Accepted forms" in problems["periods[1].period"]
    assert "more than 2 decimals" in problems["periods[1].lines[0].amount"]
    assert (
        "'robot_minutes', 'items_done', 'equal' or 'direct'"
        in problems["periods[1].lines[0].driver"]
    )
    assert "robot_minute" in problems["periods[1].lines[0].driver"]
    assert "unknown key" in problems["periods[1].lines[0].colour"]
    assert "needs a 'process'" in problems["periods[1].lines[1]"]
    assert "periods[1].lines[0].amount (line 12):" in message
    assert "periods[1].lines[0].colour (line 14):" in message


LINE = "hourly_rate: 1\nperiods:\n  - period: {period}\n    lines:\n{lines}"
ONE = "      - {name: a, amount: 1, driver: equal}\n"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("periods: []\n", "hourly_rate", "is required"),
        ("hourly_rate: -1\n", "hourly_rate", "negative"),
        ("hourly_rate: 1\nfte_hours_per_year: 0\n", "fte_hours_per_year", "greater than 0"),
        ("hourly_rate: 1\ncurrency: EUR\n", "currency", "'NOK'"),
        ("hourly_rate: 1\ntimezone: Mars/Base\n", "timezone", "IANA"),
        (LINE.format(period="last-month", lines=ONE), "periods[0].period", "absolute"),
        (
            "hourly_rate: 1\nperiods:\n  - {period: 2026, lines: []}\n",
            "periods[0].lines",
            "at least 1",
        ),
        (LINE.format(period="2026", lines=ONE + ONE), "periods[0]", "repeat"),
        (
            LINE.format(period="2026", lines=ONE.replace("}", ", process: p}")),
            "periods[0].lines[0]",
            "only used with driver 'direct'",
        ),
        (
            LINE.format(period="2026", lines=ONE.replace("1,", "'1,5',")),
            "periods[0].lines[0].amount",
            "use '.'",
        ),
        ("hourly_rate: 1\nextra: 1\n", "extra", "unknown key; expected one of: currency"),
    ],
)
def test_each_error_names_its_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    _, problems = problems_of(tmp_path, text)
    assert key in problems, problems
    assert expected in problems[key]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(CostsConfigError) as caught:
        load_costs(write(tmp_path, "hourly_rate: 1\nperiods: [1, 2\nother: 3\n"))
    message = str(caught.value)
    assert "costs.yaml, line 3, column" in message
    assert "YAML syntax error" in message


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(CostsConfigError, match="cannot read the file"):
        load_costs(tmp_path / "missing.yaml")
    with pytest.raises(CostsConfigError, match="expected a mapping"):
        load_costs(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(CostsConfigError, match="got NoneType"):
        load_costs(write(tmp_path, "# only a comment\n"))
