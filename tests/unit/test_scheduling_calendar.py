"""Trigger and calendar arithmetic with a controllable clock: every "now" is passed in.

Europe/Oslo changes to summer time on 2026-03-29 (02:00 -> 03:00) and back on
2026-10-25 (03:00 -> 02:00); the holidays hang off Easter (2026-04-05,
2027-03-28), and in 2027 2. pinsedag falls on Constitution Day, 17 May.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestrator.errors import ConfigError
from orchestrator.process_config import ProcessConfig, load_process
from orchestrator.scheduling.calendar import (
    ProcessCalendar,
    easter_sunday,
    is_open,
    next_open,
    norwegian_holidays,
)
from orchestrator.scheduling.gate import ProcessGate
from orchestrator.scheduling.triggers import (
    TimedTrigger,
    TriggerSpec,
    crontab_weekdays,
    timed_triggers,
)

OSLO = ZoneInfo("Europe/Oslo")
BASE = {"name": "inbox", "owner": "HR", "cost_centre": "1400", "bot": "noop",
        "manual_minutes_per_item": 3}


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=OSLO)


def trigger(**spec: object) -> TimedTrigger:
    (found,) = timed_triggers("p", {"triggers": [spec]})
    return found


def fires(t: TimedTrigger, start: datetime, end: datetime) -> list[datetime]:
    return list(t.times_between(start, end))


def gaps(times: list[datetime]) -> set[float]:
    """Real seconds between consecutive times (`b - a` in one zone subtracts wall times)."""
    return {b.timestamp() - a.timestamp() for a, b in pairwise(times)}


def utc_hm(when: datetime | None) -> str:
    assert when is not None
    return when.astimezone(UTC).strftime("%m-%d %H:%M")


# -- cron across daylight saving ---------------------------------------------------------
def test_a_daily_time_in_the_skipped_hour_fires_once_at_the_jump() -> None:
    daily = trigger(cron="30 2 * * *")
    got = fires(daily, oslo(2026, 3, 28, 12), oslo(2026, 3, 30, 12))
    # 28th->29th: 02:30 does not exist on the 29th, so it runs at 03:30 CEST (01:30 UTC)
    assert [utc_hm(t) for t in got] == ["03-29 01:30", "03-30 00:30"]
    assert got[0].astimezone(OSLO).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_daily_time_in_the_repeated_hour_fires_once_not_twice() -> None:
    daily = trigger(cron="30 2 * * *")
    got = fires(daily, oslo(2026, 10, 24, 12), oslo(2026, 10, 26, 12))
    assert [utc_hm(t) for t in got] == ["10-25 00:30", "10-26 01:30"]
    assert got[0].strftime("%H:%M %Z") == "02:30 CEST"  # the first 02:30 only


def test_an_hourly_schedule_fires_in_every_real_hour() -> None:
    hourly = trigger(cron="0 * * * *")
    spring = fires(hourly, oslo(2026, 3, 29, 0) - timedelta(seconds=1), oslo(2026, 3, 29, 23))
    autumn = fires(hourly, oslo(2026, 10, 25, 0) - timedelta(seconds=1), oslo(2026, 10, 25, 23))
    assert len(spring) == 23 and len(autumn) == 25  # 02:00 is skipped; 02:00 comes twice
    for got in (spring, autumn):
        assert gaps(got) == {3600.0}  # one real hour apart, always
    assert [t.strftime("%H:%M%z") for t in autumn[2:4]] == ["02:00+0200", "02:00+0100"]


def test_a_weekday_cron_keeps_wall_clock_time_through_both_changes() -> None:
    morning = trigger(cron="0 7 * * mon-fri")
    got = fires(morning, oslo(2026, 3, 26, 8), oslo(2026, 3, 31, 8))
    assert [t.strftime("%a %H:%M") for t in got] == ["Fri 07:00", "Mon 07:00", "Tue 07:00"]
    assert [t.astimezone(UTC).hour for t in got] == [6, 5, 5]  # 07:00 CET, then CEST
    got = fires(morning, oslo(2026, 10, 22, 8), oslo(2026, 10, 27, 8))
    assert [t.astimezone(UTC).hour for t in got] == [5, 6, 6]


def test_crontab_weekday_numbers_mean_what_crontab_says() -> None:
    # APScheduler 3 alone would read 1-5 as Tuesday-Saturday
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("mon-fri") == "mon-fri"
    friday_noon = oslo(2026, 6, 5, 12)
    assert trigger(cron="0 7 * * 1-5").next_after(friday_noon) == oslo(2026, 6, 8, 7)
    assert trigger(cron="0 7 * * 0").next_after(friday_noon) == oslo(2026, 6, 7, 7)


def test_a_trigger_time_zone_overrides_the_process_zone() -> None:
    (t,) = timed_triggers("p", {"timezone": "UTC", "triggers": [
        {"cron": "0 7 * * *", "timezone": "America/New_York"}]})
    assert t.timezone == "America/New_York"
    assert utc_hm(t.next_after(datetime(2026, 7, 1, tzinfo=UTC))) == "07-01 11:00"
    (t,) = timed_triggers("p", {"timezone": "UTC", "triggers": [{"cron": "0 7 * * *"}]})
    assert utc_hm(t.next_after(datetime(2026, 7, 1, tzinfo=UTC))) == "07-01 07:00"


# -- intervals ------------------------------------------------------------------------------
def test_an_interval_counts_elapsed_time_across_both_changes() -> None:
    hourly = trigger(interval="1h")
    for day in (oslo(2026, 3, 29, 0, 30), oslo(2026, 10, 25, 0, 30)):
        got = fires(hourly, day, day + timedelta(hours=5))
        assert gaps(got) == {3600.0}
    spring = fires(hourly, oslo(2026, 3, 29, 0, 30), oslo(2026, 3, 29, 4))
    assert [t.strftime("%H:%M") for t in spring] == ["01:00", "03:00", "04:00"]


def test_intervals_are_aligned_so_every_node_computes_the_same_times() -> None:
    every10 = trigger(interval="10m")
    assert every10.next_after(oslo(2026, 5, 4, 9, 3, 17)) == oslo(2026, 5, 4, 9, 10)
    every2s = trigger(interval=2)
    assert every2s.next_after(oslo(2026, 5, 4, 9, 0, 1)) == oslo(2026, 5, 4, 9, 0, 2)
    # a second node building the trigger later agrees to the microsecond
    again = trigger(interval=2)
    when = oslo(2026, 5, 4, 9, 0, 1, 500)
    first, second = every2s.next_after(when), again.next_after(when)
    assert first is not None and second is not None
    assert first.timestamp() == second.timestamp()


def test_trigger_keys_follow_what_the_trigger_says() -> None:
    a = trigger(cron="*/5 * * * *")
    assert a.key == trigger(cron="*/5 * * * *").key
    assert a.key != trigger(cron="*/10 * * * *").key
    assert a.key != trigger(cron="*/5 * * * *", timezone="UTC").key
    assert a.key.startswith("p#0:")


# -- holidays ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("year", "easter"), [
    (2000, date(2000, 4, 23)), (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)),
    (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28)), (2038, date(2038, 4, 25)),
    (2285, date(2285, 3, 22)),
])
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_norwegian_public_holidays_2026() -> None:
    assert {d.isoformat(): n for d, n in norwegian_holidays(2026).items()} == {
        "2026-01-01": "1. nyttårsdag", "2026-04-02": "Skjærtorsdag",
        "2026-04-03": "Langfredag", "2026-04-05": "1. påskedag", "2026-04-06": "2. påskedag",
        "2026-05-01": "Offentlig høytidsdag", "2026-05-14": "Kristi himmelfartsdag",
        "2026-05-17": "Grunnlovsdag", "2026-05-24": "1. pinsedag", "2026-05-25": "2. pinsedag",
        "2026-12-25": "1. juledag", "2026-12-26": "2. juledag"}


def test_norwegian_public_holidays_2027_where_whit_monday_is_17_may() -> None:
    days = norwegian_holidays(2027)
    assert [d.isoformat() for d in days] == [
        "2027-01-01", "2027-03-25", "2027-03-26", "2027-03-28", "2027-03-29", "2027-05-01",
        "2027-05-06", "2027-05-16", "2027-05-17", "2027-12-25", "2027-12-26"]
    assert days[date(2027, 5, 17)] == "2. pinsedag / Grunnlovsdag"


# -- working hours ------------------------------------------------------------------------------
WEEKDAYS = {"working_hours": [{"days": "mon-fri", "from": "07:00", "to": "17:00"}]}


def test_a_weekday_window_opens_and_closes_on_the_minute() -> None:
    monday = (2026, 6, 8)
    assert not is_open(WEEKDAYS, oslo(*monday, 6, 59))
    assert is_open(WEEKDAYS, oslo(*monday, 7, 0))
    assert is_open(WEEKDAYS, oslo(*monday, 16, 59, 59))
    assert not is_open(WEEKDAYS, oslo(*monday, 17, 0))
    assert not is_open(WEEKDAYS, oslo(2026, 6, 6, 12))  # Saturday
    assert is_open({}, oslo(2026, 6, 6, 3))  # no hours, no holidays: always open


def test_windows_are_wall_clock_across_daylight_saving() -> None:
    # 07:00 in Oslo is 06:00 UTC on Friday 27 March and 05:00 UTC on Monday 30 March
    assert is_open(WEEKDAYS, datetime(2026, 3, 27, 6, 0, tzinfo=UTC))
    assert not is_open(WEEKDAYS, datetime(2026, 3, 30, 4, 59, tzinfo=UTC))
    assert is_open(WEEKDAYS, datetime(2026, 3, 30, 5, 0, tzinfo=UTC))
    assert next_open(WEEKDAYS, oslo(2026, 10, 23, 18)) == oslo(2026, 10, 26, 7)


def test_public_holidays_close_the_window_unless_told_otherwise() -> None:
    ascension = oslo(2026, 5, 14, 10)  # Thursday, Kristi himmelfartsdag
    assert not is_open(WEEKDAYS, ascension)
    assert is_open(WEEKDAYS | {"holidays": {"calendar": "none"}}, ascension)
    # Easter: closed Thursday 2 April to Monday 6 April, open again Tuesday at 07:00
    assert next_open(WEEKDAYS, oslo(2026, 4, 1, 17, 30)) == oslo(2026, 4, 7, 7)
    assert next_open(WEEKDAYS, oslo(2027, 3, 24, 18)) == oslo(2027, 3, 30, 7)


def test_users_add_their_own_closed_days() -> None:
    own = WEEKDAYS | {"holidays": ["2026-12-24", "12-31"]}
    assert not is_open(own, oslo(2026, 12, 24, 10))     # one date
    assert not is_open(own, oslo(2027, 12, 31, 10))     # every year
    assert is_open(own, oslo(2026, 12, 23, 10))
    # the Norwegian calendar still applies next to them
    assert next_open(own, oslo(2026, 12, 23, 17)) == oslo(2026, 12, 28, 7)
    # holidays without working hours: open around the clock, except on them
    only = {"holidays": {"dates": ["2026-07-01"]}}
    assert is_open(only, oslo(2026, 7, 2, 3)) and not is_open(only, oslo(2026, 7, 1, 23))
    assert not is_open(only, oslo(2026, 12, 25, 12))


def test_several_windows_and_the_end_of_the_day() -> None:
    shifts = {"working_hours": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00", "to": "11:00"},
        {"days": "mon-fri", "from": "12:00", "to": "24:00"},
        {"days": "sat", "from": "00:00", "to": "02:00"}], "holidays": {"calendar": "none"}}
    cal = ProcessCalendar.from_definition(shifts)
    assert cal is not None
    assert not cal.is_open(oslo(2026, 6, 12, 11, 30))
    assert cal.next_open(oslo(2026, 6, 12, 11, 30)) == oslo(2026, 6, 12, 12)
    assert cal.next_close(oslo(2026, 6, 12, 12, 30)) == oslo(2026, 6, 13, 0)
    assert cal.is_open(oslo(2026, 6, 12, 23, 59)) and cal.is_open(oslo(2026, 6, 13, 1))
    assert cal.next_open(oslo(2026, 6, 13, 3)) == oslo(2026, 6, 15, 7)


def test_the_gate_follows_the_window_with_the_clock_it_is_given() -> None:
    gate = ProcessGate(process="p", queue_id=1,
                       calendar=ProcessCalendar.from_definition(WEEKDAYS))
    assert not gate.open_at(oslo(2026, 4, 3, 10))   # Langfredag
    assert gate.open_at(oslo(2026, 4, 7, 7))        # Tuesday after Easter
    assert not gate.open_at(oslo(2026, 4, 7, 17))


# -- the process file ---------------------------------------------------------------------------
def test_the_process_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / "inbox.yaml"
    path.write_text(textwrap.dedent("""\
        name: inbox
        owner: HR
        cost_centre: 1400
        bot: noop
        manual_minutes_per_item: 3
        timezone: Europe/Oslo
        triggers:
          - cron: "*/15 7-16 * * 1-5"
            misfire_grace: 5m
          - interval: 1h
            coalesce: false
          - queue: {min_items: 20}
        working_hours:
          - days: mon-fri
            from: "07:00"
            to: 17:00
        holidays: [2026-12-24, 12-31]
        feeder: mybots.inbox:poll
        """), encoding="utf-8")
    config = load_process(path)
    assert [t.kind for t in config.triggers or []] == ["cron", "interval", "queue"]
    definition = config.to_spec().definition
    assert definition["working_hours"] == [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                            "from": "07:00", "to": "17:00"}]
    assert definition["triggers"][2] == {"queue": {"min_items": 20}}
    assert len(timed_triggers("inbox", definition)) == 2
    assert not is_open(config, oslo(2026, 12, 24, 10))


@pytest.mark.parametrize(("extra", "key", "words"), [
    ({"triggers": [{"cron": "0 7 * *"}]}, "triggers[0]", "5 fields"),
    ({"triggers": [{"cron": "0 25 * * *"}]}, "triggers[0]", "the hour field '25'"),
    ({"triggers": [{"cron": "0 0 30 2 *"}]}, "triggers[0]", "never fires"),
    ({"triggers": [{"interval": "often"}]}, "triggers[0].interval", "not a duration"),
    ({"triggers": [{"cron": "* * * * *", "interval": "1m"}]}, "triggers[0]", "exactly one"),
    ({"triggers": [{"queue": {"min_items": 5}, "misfire_grace": "1m"}]}, "triggers[0]",
     "only min_items"),
    ({"triggers": [{"cron": "* * * * *", "every": 1}]}, "triggers[0].every", "unknown key"),
    ({"working_hours": [{"days": "mon-fry", "from": "07:00", "to": "17:00"}]},
     "working_hours[0].days", "day range"),
    ({"working_hours": [{"from": "17:00", "to": "07:00"}]}, "working_hours[0]", "two windows"),
    ({"working_hours": [{"from": "7am", "to": "17:00"}]}, "working_hours[0].from",
     "time of day"),
    ({"holidays": ["2026-02-30"]}, "holidays.dates", "not a date"),
    ({"timezone": "Oslo"}, "timezone", "unknown time zone"),
    ({"feeder": "mybots.inbox"}, "feeder", "module:function"),
    ({"feeder": "mybots.inbox:poll"}, "(top level)", "cron: or interval:"),
])
def test_mistakes_are_named_by_key(tmp_path: Path, extra: dict[str, object], key: str,
                                   words: str) -> None:
    import yaml
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(BASE | extra), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_process(path)
    assert f"{key}:" in str(err.value) and words in str(err.value), str(err.value)


def test_a_queue_trigger_is_only_a_threshold() -> None:
    spec = TriggerSpec.model_validate({"queue": {"min_items": 3}})
    assert spec.kind == "queue" and spec.describe() == "queue >= 3"
    config = ProcessConfig.model_validate(BASE | {"triggers": [{"queue": {"min_items": 3}}]})
    assert timed_triggers("inbox", config.to_spec().definition) == []
