"""Whether a service point is open at a moment, and when it next opens and
closes: its OpenStreetMap `opening_hours` string read by opening-hours-py,
with the portal's working-day calendar (`dossiers.calendar`) laid over it.

The calendar decides the days, the string the hours:
- a public holiday or a day given off (Tết, a weekday off in exchange for a
  make-up Saturday, an administrator's day off) is closed all day, whatever
  the string says, post offices included;
- a make-up working day that falls on a Saturday or Sunday is worked like a
  Friday: the point keeps the hours its string gives for the Friday before
  (so a desk open "Mo-Fr" opens, and the centre's short Saturday becomes a
  full day);
- any other day follows the string (weekends as it says).

Times are local to the province (`TIME_ZONE`, Asia/Ho_Chi_Minh, which has no
daylight saving, so local clock arithmetic is exact)."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from django.utils import timezone
from opening_hours import OpeningHours, ParserError, State

from dossiers.calendar import WorkingCalendar

# How far ahead the next opening or closing is looked for; beyond it the
# answer is "not within two months" (null), e.g. a point open 24/7 never closes.
HORIZON_DAYS = 62
_FRIDAY = 4
_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class OpeningState:
    """`open_now` is None when the hours are missing or unreadable; then so
    are the two moments. `opens_at` is the start of the next opening after
    the moment (after the current one closes, when open now); `closes_at`
    ends the current opening when open, else the next one."""

    open_now: bool | None
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None

    @property
    def known(self) -> bool:
        return self.open_now is not None


UNKNOWN = OpeningState(open_now=None, opens_at=None, closes_at=None)


@lru_cache(maxsize=512)
def parsed_opening_hours(text: str) -> OpeningHours | None:
    """The parsed expression, or None when empty or not valid OSM syntax."""
    if not text or not text.strip():
        return None
    try:
        return OpeningHours(text)
    except (ParserError, SyntaxError, ValueError):
        return None


def opening_hours_problem(text: str) -> str | None:
    """Why the library refuses the string (its parser's message), or None."""
    try:
        OpeningHours(text)
    except (ParserError, SyntaxError, ValueError) as error:
        return str(error)
    return None


@lru_cache(maxsize=8192)
def _intervals_on(text: str, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """Open intervals of the string on the calendar day `day` (naive local
    datetimes within that day), by the string alone."""
    hours = parsed_opening_hours(text)
    if hours is None:
        return ()
    start = dt.datetime.combine(day, dt.time())
    end = start + _ONE_DAY
    return tuple(
        (max(begin, start), min(finish or end, end))
        for begin, finish, state, _comment in hours.intervals(start, end)
        if state == State.OPEN and begin < end and (finish is None or finish > start)
    )


def _rule_day(calendar: WorkingCalendar, day: dt.date) -> dt.date | None:
    """The day whose hours apply on `day` (None: closed all day)."""
    if calendar.is_day_off(day):
        return None
    if day.weekday() > _FRIDAY and calendar.is_working_day(day):
        return day - dt.timedelta(days=(day.weekday() - _FRIDAY))
    return day


def day_intervals(text: str, day: dt.date, calendar: WorkingCalendar) -> list[tuple[dt.datetime, dt.datetime]]:
    """Open intervals of a point on `day` with the calendar applied (naive local)."""
    source = _rule_day(calendar, day)
    if source is None:
        return []
    shift = day - source
    return [(begin + shift, end + shift) for begin, end in _intervals_on(text, source)]


def _openings(text: str, first_day: dt.date, calendar: WorkingCalendar) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Open intervals from the start of `first_day` on, those that touch
    merged (an opening across midnight is one), up to the horizon."""
    pending: tuple[dt.datetime, dt.datetime] | None = None
    for offset in range(HORIZON_DAYS):
        for begin, end in day_intervals(text, first_day + offset * _ONE_DAY, calendar):
            if pending is not None and begin <= pending[1]:
                pending = (pending[0], max(pending[1], end))
                continue
            if pending is not None:
                yield pending
            pending = (begin, end)
    if pending is not None:
        # Still open at the horizon: when it closes is not known from here.
        horizon = dt.datetime.combine(first_day + HORIZON_DAYS * _ONE_DAY, dt.time())
        yield pending if pending[1] < horizon else (pending[0], dt.datetime.max)


def opening_state(text: str, at: dt.datetime, calendar: WorkingCalendar) -> OpeningState:
    """The point's state at the aware moment `at`, and its next changes."""
    if parsed_opening_hours(text) is None:
        return UNKNOWN
    tz = timezone.get_default_timezone()
    local = timezone.localtime(at, tz).replace(tzinfo=None)

    def aware(moment: dt.datetime | None) -> dt.datetime | None:
        return None if moment is None or moment == dt.datetime.max else moment.replace(tzinfo=tz)

    current = None
    # From the day before: an opening that began yesterday may run past midnight.
    for begin, end in _openings(text, local.date() - _ONE_DAY, calendar):
        if end <= local:
            continue
        if begin <= local and current is None:
            current = (begin, end)
            continue
        if current is not None:
            return OpeningState(open_now=True, opens_at=aware(begin), closes_at=aware(current[1]))
        return OpeningState(open_now=False, opens_at=aware(begin), closes_at=aware(end))
    if current is not None:
        return OpeningState(open_now=True, opens_at=None, closes_at=aware(current[1]))
    return OpeningState(open_now=False, opens_at=None, closes_at=None)
