"""Working days and working hours, for deadlines.

A day is a working day unless it is a Saturday, a Sunday or a Vietnamese
public holiday (`holidays`, country VN, lunar Tết included). The days the
government swaps (a weekday off in exchange for a make-up working Saturday,
e.g. Friday 2 May 2025 for Saturday 26 April 2025) come from `holidays` too:
it lists the weekday as a day off and the Saturday among its
`weekend_workdays`. An administrator's `CalendarException` overrides all of
this (a swap `holidays` does not know yet, a local decision). Receipt rule: a dossier received on a working day
within working hours counts from that day; one received outside them counts
from the start of the next working day. It is due at the end of the N-th
working day after that day."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from .models import CalendarException

if TYPE_CHECKING:
    import holidays

# The longest run of days off one can meet (Tết plus weekends plus moved days)
# is far below this; a bound keeps a bad table from looping for ever.
_MAX_SCAN_DAYS = 3660


@lru_cache(maxsize=1)
def _public_holidays() -> holidays.HolidayBase:
    # Imported on first use: building its calendars takes 0.1 s, which every
    # process start (a command, a Celery worker) paid before it needed a date.
    import holidays

    return holidays.country_holidays("VN")


# `holidays` fills a year on the first lookup in it, marking the year as done
# before its days are in: without the lock a second thread (threaded server,
# concurrent submissions) could see Tết as a working day meanwhile.
_HOLIDAYS_LOCK = threading.Lock()


@lru_cache(maxsize=8192)
def _is_public_working_day(day: dt.date) -> bool:
    """Monday to Friday unless a public holiday or a swapped day off, and the
    make-up working Saturdays the government declared. Cached: a fact of the
    `holidays` data, which does not change while the process runs, and each
    lookup costs tens of microseconds (the worklist's step dues ask for
    hundreds a page, bench/process.py)."""
    with _HOLIDAYS_LOCK:
        return _public_holidays().is_working_day(day)


def _clock(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


@dataclass(frozen=True)
class WorkingCalendar:
    exceptions: dict[dt.date, str]
    day_start: dt.time
    day_end: dt.time

    def is_working_day(self, day: dt.date) -> bool:
        kind = self.exceptions.get(day)
        if kind is not None:
            return kind == CalendarException.Kind.WORKING_DAY
        return _is_public_working_day(day)

    def is_day_off(self, day: dt.date) -> bool:
        """A public holiday or a day given off (the weekday off of a swap, an
        administrator's day off), on any day of the week; a plain Saturday or
        Sunday is not one. Opening hours close on these days."""
        kind = self.exceptions.get(day)
        if kind is not None:
            return kind == CalendarException.Kind.DAY_OFF
        with _HOLIDAYS_LOCK:
            return day in _public_holidays()

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        for offset in range(1, _MAX_SCAN_DAYS):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError("no working day within ten years: check the calendar exceptions")

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The `count`-th working day after `day` (`day` itself when 0)."""
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, first: dt.date, last: dt.date) -> int:
        """Working days d with first < d <= last (0 when last <= first)."""
        count, day = 0, first
        while day < last:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def counting_day(self, moment: dt.datetime) -> dt.date:
        """The working day a moment counts for: its own day when it falls on a
        working day within working hours, else the next working day."""
        local = timezone.localtime(moment)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_end:
            # Before opening counts as that morning, i.e. the same day.
            return day
        return self.next_working_day(day)

    def end_of(self, day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, self.day_end))

    def due_at(self, received_at: dt.datetime, working_days: int) -> dt.datetime:
        return self.end_of(self.add_working_days(self.counting_day(received_at), working_days))

    def paused_working_days(self, paused_at: dt.datetime, resumed_at: dt.datetime) -> int:
        """Working days lost to a supplement pause: those from the day the
        pause counts for up to (not including) the day the resumption counts
        for. Pausing and resuming on the same working day loses none."""
        return self.working_days_between(self.counting_day(paused_at), self.counting_day(resumed_at))


def working_calendar() -> WorkingCalendar:
    """The calendar as the administrators keep it now (one small query)."""
    return WorkingCalendar(
        exceptions=dict(CalendarException.objects.values_list("date", "kind")),
        day_start=_clock(settings.WORKDAY_START),
        day_end=_clock(settings.WORKDAY_END),
    )
