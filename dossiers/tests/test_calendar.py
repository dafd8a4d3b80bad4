"""Deadlines in working days (dossiers.calendar) and the timeliness of
finished dossiers. Every expected date is written out by hand from a wall
calendar of 2026/2027 and the Vietnamese holidays, never computed by the
code under test."""

import datetime as dt

import pytest

from dossiers.calendar import working_calendar
from dossiers.models import CalendarException, DailyStat, Dossier
from dossiers.services import dossier_transition

from .conftest import local

pytestmark = pytest.mark.django_db


def due(received: dt.datetime, days: int) -> dt.datetime:
    return working_calendar().due_at(received, days)


@pytest.mark.parametrize(
    ("received", "days", "expected", "why"),
    [
        # 2026-03-06 is a Friday.
        (local(2026, 3, 6, 10), 1, local(2026, 3, 9, 17), "Friday in hours, N=1: Monday evening"),
        (local(2026, 3, 6, 18), 1, local(2026, 3, 10, 17), "Friday after hours counts from Monday: Tuesday"),
        (local(2026, 3, 6, 17), 1, local(2026, 3, 10, 17), "17:00 sharp is already after hours"),
        (local(2026, 3, 6, 16, 59), 1, local(2026, 3, 9, 17), "16:59 is still in hours"),
        (local(2026, 3, 7, 10), 1, local(2026, 3, 10, 17), "Saturday counts from Monday"),
        (local(2026, 3, 8, 23), 1, local(2026, 3, 10, 17), "Sunday night counts from Monday"),
        (local(2026, 3, 2, 6), 1, local(2026, 3, 3, 17), "Monday before opening counts as Monday"),
        (local(2026, 3, 2, 0, 5), 1, local(2026, 3, 3, 17), "just after midnight counts as that day"),
        (local(2026, 3, 2, 10), 0, local(2026, 3, 2, 17), "N=0: the same evening"),
        (local(2026, 3, 2, 10), 5, local(2026, 3, 9, 17), "a whole week"),
        (local(2026, 3, 2, 10), 10, local(2026, 3, 16, 17), "two weeks"),
        # 30 April (Thursday) and 1 May (Friday) 2026 are holidays.
        (local(2026, 4, 29, 10), 1, local(2026, 5, 4, 17), "Wed before 30/4-1/5, N=1: the Monday after"),
        (local(2026, 4, 29, 10), 2, local(2026, 5, 5, 17), "Wed before 30/4-1/5, N=2"),
        (local(2026, 4, 30, 10), 1, local(2026, 5, 5, 17), "received on 30/4 counts from Monday 4/5"),
        (local(2026, 5, 1, 9), 0, local(2026, 5, 4, 17), "received on 1/5, N=0: Monday 4/5"),
        # Hùng Kings' day: 26/4/2026 is a Sunday, observed on Monday 27/4.
        (local(2026, 4, 24, 10), 1, local(2026, 4, 28, 17), "Friday before the observed Hùng Kings' Monday"),
        (local(2026, 4, 27, 10), 1, local(2026, 4, 29, 17), "received on the observed Monday: counts from Tuesday"),
        (local(2026, 4, 24, 10), 3, local(2026, 5, 4, 17), "over Hùng Kings and 30/4-1/5 together"),
        # Tết 2026: 16-20 February (Monday to Friday) are days off.
        (local(2026, 2, 13, 10), 2, local(2026, 2, 24, 17), "Friday before Tết, N=2"),
        (local(2026, 2, 13, 10), 1, local(2026, 2, 23, 17), "Friday before Tết, N=1"),
        (local(2026, 2, 12, 10), 1, local(2026, 2, 13, 17), "Thursday before Tết, N=1: Friday"),
        (local(2026, 2, 18, 10), 1, local(2026, 2, 24, 17), "received during Tết counts from 23/2"),
        # National Day 2026: 1-2 September (Tuesday, Wednesday), and Monday
        # 31 August is a day off moved from Saturday 22 August.
        (local(2026, 8, 28, 10), 1, local(2026, 9, 3, 17), "Friday before 31/8-2/9, N=1: Thursday"),
    ],
)
def test_due_dates(received, days, expected, why):
    assert due(received, days) == expected, why


# Days the government swapped: a weekday off in exchange for a make-up
# working Saturday, for civil servants (who run the one-stop desks). Written
# out by hand from the decisions, which the `holidays` package (0.109,
# holidays/countries/vietnam.py, VietnamStaticHolidays) lists with its sources:
# - 2024: Official Dispatch 2450/VPCP-KGVX of 12 April 2024: Monday 29/4 off,
#   Saturday 4/5/2024 worked (30/4 Tuesday, 1/5 Wednesday are holidays).
# - 2025: Announcement 6150/TB-BLĐTBXH (Prime Minister's agreement, Official
#   Dispatch 8726/VPCP-KGVX of 26 November 2024): Friday 2/5 off, Saturday
#   26/4/2025 worked (30/4 Wednesday, 1/5 Thursday are holidays).
# - 2026: National Day: Monday 31/8 off, Saturday 22/8/2026 worked (1/9
#   Tuesday and 2/9 Wednesday are holidays).
@pytest.mark.parametrize(
    ("received", "days", "expected", "why"),
    [
        (local(2024, 5, 3, 10), 1, local(2024, 5, 4, 17), "Friday 3/5/2024, N=1: the make-up Saturday"),
        (local(2024, 5, 4, 10), 0, local(2024, 5, 4, 17), "received on the make-up Saturday counts from it"),
        (local(2024, 4, 26, 10), 1, local(2024, 5, 2, 17), "over the swapped Monday 29/4/2024 and 30/4-1/5"),
        (local(2025, 4, 25, 10), 1, local(2025, 4, 26, 17), "Friday 25/4/2025, N=1: Saturday 26/4"),
        (local(2025, 4, 25, 10), 2, local(2025, 4, 28, 17), "Friday 25/4/2025, N=2: Monday 28/4"),
        (local(2025, 4, 26, 9), 1, local(2025, 4, 28, 17), "received on Saturday 26/4/2025 in hours"),
        (local(2025, 4, 29, 10), 1, local(2025, 5, 5, 17), "30/4, 1/5 and the swapped Friday 2/5/2025 are off"),
        (local(2025, 4, 24, 10), 5, local(2025, 5, 5, 17), "Thursday 24/4/2025 + 5: Fri, Sat 26/4, Mon, Tue, Mon 5/5"),
        (local(2026, 8, 21, 10), 1, local(2026, 8, 22, 17), "Friday 21/8/2026, N=1: Saturday 22/8"),
        (local(2026, 8, 22, 18), 1, local(2026, 8, 25, 17), "Saturday 22/8/2026 after hours counts from Monday"),
        (local(2026, 8, 27, 10), 2, local(2026, 9, 3, 17), "Thursday 27/8/2026 + 2: Friday, then Thursday 3/9"),
    ],
)
def test_government_swapped_days(received, days, expected, why):
    assert due(received, days) == expected, why


def test_swapped_days_in_counts_of_working_days():
    calendar = working_calendar()
    # 22/8/2026 (Saturday) and 24-28/8 are worked; 31/8, 1/9 and 2/9 are not.
    assert calendar.working_days_between(dt.date(2026, 8, 21), dt.date(2026, 8, 28)) == 6
    assert calendar.working_days_between(dt.date(2026, 8, 28), dt.date(2026, 9, 3)) == 1
    assert calendar.is_working_day(dt.date(2025, 4, 26)) and not calendar.is_working_day(dt.date(2025, 5, 2))
    assert not calendar.is_working_day(dt.date(2025, 4, 19)), "an ordinary Saturday stays off"


def test_administrator_overrides_a_swapped_day():
    # A province may keep its desks closed on the make-up Saturday, or open on
    # the swapped weekday: the exception wins over the `holidays` data.
    CalendarException.objects.create(date=dt.date(2025, 4, 26), kind="day_off", note="không làm bù")
    CalendarException.objects.create(date=dt.date(2025, 5, 2), kind="working_day", note="trực")
    assert due(local(2025, 4, 25, 10), 1) == local(2025, 4, 28, 17)
    assert due(local(2025, 4, 29, 10), 1) == local(2025, 5, 2, 17)


def test_due_date_is_end_of_working_day_in_local_time():
    due_at = due(local(2026, 3, 6, 10), 1)
    assert due_at.astimezone(dt.UTC) == dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC)  # 17:00 at UTC+7


def test_moved_day_off_shifts_the_due_date():
    # Without exception: Monday 2/3 + 3 = Thursday 5/3.
    assert due(local(2026, 3, 2, 10), 3) == local(2026, 3, 5, 17)
    CalendarException.objects.create(date=dt.date(2026, 3, 4), kind="day_off", note="nghỉ bù")
    assert due(local(2026, 3, 2, 10), 3) == local(2026, 3, 6, 17)
    # Received on the moved day off: counts from Thursday.
    assert due(local(2026, 3, 4, 10), 1) == local(2026, 3, 6, 17)


def test_make_up_working_saturday_counts():
    # Without exception: Thursday 5/3 + 2 = Monday 9/3.
    assert due(local(2026, 3, 5, 10), 2) == local(2026, 3, 9, 17)
    CalendarException.objects.create(date=dt.date(2026, 3, 7), kind="working_day", note="làm bù")
    assert due(local(2026, 3, 5, 10), 2) == local(2026, 3, 7, 17)
    # Received on that Saturday within hours: it counts from the Saturday.
    assert due(local(2026, 3, 7, 10), 1) == local(2026, 3, 9, 17)


def test_working_day_exception_overrides_a_public_holiday():
    # An administrator may also cancel a holiday (e.g. a holiday moved to
    # another day): the exception wins over the `holidays` table.
    CalendarException.objects.create(date=dt.date(2026, 4, 30), kind="working_day")
    assert due(local(2026, 4, 29, 10), 1) == local(2026, 4, 30, 17)


def test_working_days_between_and_counting_day():
    calendar = working_calendar()
    assert calendar.working_days_between(dt.date(2026, 2, 13), dt.date(2026, 2, 24)) == 2  # 23, 24 Feb
    assert calendar.working_days_between(dt.date(2026, 3, 6), dt.date(2026, 3, 6)) == 0
    assert calendar.counting_day(local(2026, 2, 14, 10)) == dt.date(2026, 2, 23)
    assert calendar.counting_day(local(2026, 3, 3, 16, 0)) == dt.date(2026, 3, 3)


# --- through the services: submission, supplement pauses, classification ---
# March 2027: Monday 1 ... Friday 5, Monday 8 ... No holidays in March 2027.
# The main test procedure takes 3 working days.


def test_submission_stores_the_due_date(submit):
    dossier = submit(received_at=local(2027, 3, 5, 18))  # Friday after hours
    # Counts from Monday 8/3; +3 working days = Thursday 11/3.
    assert dossier.due_at == local(2027, 3, 11, 17)
    dossier = submit(received_at=local(2027, 3, 1, 8))
    assert dossier.due_at == local(2027, 3, 4, 17)


def _finish(dossier, people, at: dt.datetime):
    """Hand over, process, approve and mark the result ready at `at`."""
    for action, user in (("assign", people.desk_main), ("start", people.processor), ("approve", people.leader)):
        dossier_transition(code=dossier.code, action=action, acting_user=user, at=at - dt.timedelta(minutes=30))
    return dossier_transition(code=dossier.code, action="mark_result_ready", acting_user=people.processor, at=at)


@pytest.mark.parametrize(
    ("finished", "timeliness", "worked"),
    [
        (local(2027, 3, 3, 15), "early", 2),  # Wednesday, due Thursday
        (local(2027, 3, 4, 16), "on_time", 3),  # on the due day
        (local(2027, 3, 5, 9), "late", 4),  # Friday
        (local(2027, 3, 8, 9), "late", 5),  # the next Monday
    ],
)
def test_classification_against_due_date(submit, people, finished, timeliness, worked):
    dossier = submit(received_at=local(2027, 3, 1, 10))
    assert dossier.due_at == local(2027, 3, 4, 17)
    finished_dossier = _finish(dossier, people, finished)
    stored = Dossier.objects.get(pk=dossier.pk)
    assert (stored.timeliness, stored.finished_at, stored.processing_working_days) == (timeliness, finished, worked)
    assert finished_dossier.timeliness == timeliness


def _pause(dossier, people, paused: dt.datetime, resumed: dt.datetime):
    dossier_transition(
        code=dossier.code, action="request_supplement", acting_user=people.desk_main, note="thiếu giấy tờ", at=paused
    )
    assert Dossier.objects.get(pk=dossier.pk).paused_at == paused
    return dossier_transition(code=dossier.code, action="supplement", acting_user=people.citizen_a, at=resumed)


def test_supplement_pause_shifts_due_date_by_working_days(submit, people):
    dossier = submit(received_at=local(2027, 3, 1, 9))  # due Thursday 4/3
    # Paused Monday 1/3 at 11:00, supplemented Thursday 4/3 at 10:00: three
    # working days (Tuesday, Wednesday, Thursday) do not count.
    resumed = _pause(dossier, people, local(2027, 3, 1, 11), local(2027, 3, 4, 10))
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.due_at == local(2027, 3, 9, 17)  # Thursday 4/3 + 3 working days = Tuesday 9/3
    assert (stored.paused_working_days, stored.paused_at, stored.supplement_count) == (3, None, 1)
    assert resumed.status == "supplemented"


def test_supplement_pause_over_a_weekend_counts_only_working_days(submit, people):
    dossier = submit(received_at=local(2027, 3, 3, 9))  # Wednesday: due Monday 8/3
    assert dossier.due_at == local(2027, 3, 8, 17)
    # Friday 5/3 to Tuesday 9/3: Monday and Tuesday are lost, not the weekend.
    _pause(dossier, people, local(2027, 3, 5, 10), local(2027, 3, 9, 10))
    stored = Dossier.objects.get(pk=dossier.pk)
    assert stored.paused_working_days == 2
    assert stored.due_at == local(2027, 3, 10, 17)


def test_same_day_pause_and_resume_shifts_nothing(submit, people):
    dossier = submit(received_at=local(2027, 3, 1, 9))
    _pause(dossier, people, local(2027, 3, 1, 10), local(2027, 3, 1, 15))
    stored = Dossier.objects.get(pk=dossier.pk)
    assert (stored.due_at, stored.paused_working_days) == (local(2027, 3, 4, 17), 0)


def test_two_pauses_add_up(submit, people):
    dossier = submit(received_at=local(2027, 3, 1, 9))
    _pause(dossier, people, local(2027, 3, 1, 10), local(2027, 3, 2, 10))  # 1 day
    dossier_transition(code=dossier.code, action="start", acting_user=people.processor, at=local(2027, 3, 2, 11))
    # From processing, the processor asks again: Wednesday to Friday, 2 days.
    dossier_transition(
        code=dossier.code,
        action="request_supplement",
        acting_user=people.processor,
        note="thiếu bản sao",
        at=local(2027, 3, 3, 10),
    )
    dossier_transition(code=dossier.code, action="supplement", acting_user=people.desk_main, at=local(2027, 3, 5, 10))
    stored = Dossier.objects.get(pk=dossier.pk)
    # Due Thursday 4/3 + 1 + 2 working days = Tuesday 9/3.
    assert (stored.paused_working_days, stored.supplement_count) == (3, 2)
    assert stored.due_at == local(2027, 3, 9, 17)


@pytest.mark.parametrize(
    ("finished", "timeliness", "worked"),
    [
        (local(2027, 3, 8, 15), "early", 2),  # would be late without the pause
        (local(2027, 3, 9, 16), "on_time", 3),
        (local(2027, 3, 10, 9), "late", 4),
    ],
)
def test_classification_counts_the_pause(submit, people, finished, timeliness, worked):
    dossier = submit(received_at=local(2027, 3, 1, 9))
    _pause(dossier, people, local(2027, 3, 1, 11), local(2027, 3, 4, 10))  # due becomes Tuesday 9/3
    for action, user in (("start", people.processor), ("approve", people.leader)):
        dossier_transition(code=dossier.code, action=action, acting_user=user, at=finished - dt.timedelta(hours=1))
    dossier_transition(code=dossier.code, action="mark_result_ready", acting_user=people.processor, at=finished)
    stored = Dossier.objects.get(pk=dossier.pk)
    # Worked days: from Monday 1/3 to the finishing day, minus the 3 paused.
    assert (stored.timeliness, stored.processing_working_days) == (timeliness, worked)


def test_refusal_is_classified_and_counted(submit, people):
    dossier = submit(received_at=local(2027, 3, 1, 9))
    dossier_transition(
        code=dossier.code,
        action="refuse",
        acting_user=people.desk_main,
        note="không đủ điều kiện",
        at=local(2027, 3, 2, 9),
    )
    stored = Dossier.objects.get(pk=dossier.pk)
    assert (stored.status, stored.timeliness, stored.processing_working_days) == ("refused", "early", 1)
    row = DailyStat.objects.get(dimension="all", key=0, day=dt.date(2027, 3, 2))
    assert (row.finished, row.early) == (
        Dossier.objects.filter(finished_at__date=dt.date(2027, 3, 2)).count(),
        Dossier.objects.filter(finished_at__date=dt.date(2027, 3, 2), timeliness="early").count(),
    )


def test_returning_the_result_does_not_reclassify(submit, people):
    dossier = submit(received_at=local(2027, 3, 1, 9))
    _finish(dossier, people, local(2027, 3, 3, 10))  # early
    dossier_transition(
        code=dossier.code, action="return_result", acting_user=people.desk_main, at=local(2027, 3, 12, 10)
    )
    stored = Dossier.objects.get(pk=dossier.pk)
    assert (stored.status, stored.timeliness, stored.finished_at) == ("result_returned", "early", local(2027, 3, 3, 10))
    assert stored.returned_at == local(2027, 3, 12, 10)
