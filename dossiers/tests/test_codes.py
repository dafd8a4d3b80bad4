"""Dossier codes (Circular 01/2018 Art. 19): `<receiving unit identifier>-
<YYMMDD>-<NNNN>`, a sequence per unit that restarts every day, and never
the same code twice, even under concurrent submissions."""

import datetime as dt
import re
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from dossiers.lookup import CODE_PATTERN
from dossiers.models import CodeCounter, DailyStat, Dossier, Procedure, Sector
from dossiers.services import Submission, dossier_submit
from gisportal.accounts.models import Agency, Role
from gisportal.accounts.services import user_ensure
from layers.models import ServicePoint

from .conftest import CITIZEN_A_ID, STRONG_PASSWORD, local


@pytest.mark.django_db
def test_code_format_and_daily_sequence(submit, people, points):
    # Monday 26 April 2027, at CENTRE-MAIN (000.00.13.H04).
    first = submit(received_at=local(2027, 4, 26, 8))
    second = submit(received_at=local(2027, 4, 26, 16))
    assert (first.code, second.code) == ("000.00.13.H04-270426-0001", "000.00.13.H04-270426-0002")
    # The next day starts again at 0001.
    assert submit(received_at=local(2027, 4, 27, 9)).code == "000.00.13.H04-270427-0001"
    # Another unit has its own sequence on the same day.
    assert submit(receiving_point_code="CENTRE-KINHBAC", received_at=local(2027, 4, 26, 9)).code == (
        "000.00.14.H04-270426-0001"
    )
    by_post = submit(user=people.post_clerk, received_at=local(2027, 4, 26, 9))
    assert by_post.code == f"{points.post.receiving_unit_identifier}-270426-0001"
    assert submit(received_at=local(2027, 4, 26, 11)).code == "000.00.13.H04-270426-0003"


@pytest.mark.django_db
def test_the_day_of_the_code_is_the_local_day(submit):
    # 23:30 in Bắc Ninh is 16:30 UTC the same day; 00:30 is still the
    # previous day in UTC, but the code takes the local day.
    late = submit(received_at=local(2027, 4, 26, 23, 30))
    early = submit(received_at=local(2027, 4, 27, 0, 30))
    assert early.received_at.astimezone(dt.UTC).date() == dt.date(2027, 4, 26)
    assert (late.code, early.code) == ("000.00.13.H04-270426-0001", "000.00.13.H04-270427-0001")


@pytest.mark.django_db
def test_code_of_an_api_submission_uses_today(api_payload, people, client_as):
    response = client_as(people.citizen_a).post("/api/v1/dossiers/", api_payload(), format="json")
    assert response.status_code == 201
    today = timezone.localdate()
    assert re.fullmatch(rf"000\.00\.13\.H04-{today:%y%m%d}-\d{{4}}", response.json()["code"])


@pytest.mark.django_db
def test_sequence_grows_past_four_digits(submit):
    CodeCounter.objects.create(unit_identifier="000.00.13.H04", day=dt.date(2027, 4, 26), last=9999)
    code = submit(received_at=local(2027, 4, 26, 9)).code
    assert code == "000.00.13.H04-270426-10000"
    assert CODE_PATTERN.fullmatch(code)  # the public lookup still accepts it


@pytest.mark.django_db
def test_every_demo_unit_gives_codes_the_lookup_accepts():
    identifiers = set(ServicePoint.objects.values_list("receiving_unit_identifier", flat=True))
    assert len(identifiers) == ServicePoint.objects.count() > 100  # one identifier per point
    for identifier in identifiers:
        assert CODE_PATTERN.fullmatch(f"{identifier}-270426-0001"), identifier


# --- concurrency ----------------------------------------------------------------
# The submissions must run in separate transactions on separate connections,
# so the usual test transaction (which would serialise everything on one
# connection) cannot be used. `django_db(transaction=True)` would flush every
# table after the test, wiping the administrative units and service points
# the session loaded once; `serialized_rollback=True` would reload them by
# deserialising the whole database, which is slow with the unit polygons.
# Instead this test runs outside pytest-django's transaction (no `db`
# fixture), with `django_db_blocker.unblock()`: its rows are committed for
# real, by eight threads with a connection each, and removed again in
# `finally`: everything it creates is tagged (procedure 9.990001, users
# h4_conc_*, receipt day 3 March 2031, which nothing else uses).

CONCURRENT = 8
DAY = dt.date(2031, 3, 3)
UNIT = "000.00.13.H04"


def _cleanup() -> None:
    Dossier.objects.filter(procedure__code="9.990001").delete()  # events cascade
    DailyStat.objects.filter(day=DAY).delete()
    CodeCounter.objects.filter(day=DAY).delete()
    get_user_model().objects.filter(username__startswith="h4_conc_").delete()  # profiles cascade
    Procedure.objects.filter(code="9.990001").delete()
    Sector.objects.filter(code="h4-conc-sector").delete()


def test_concurrent_submissions_at_one_unit_never_share_a_code(django_db_blocker):
    with django_db_blocker.unblock():
        _cleanup()  # a run interrupted with --reuse-db may have left rows
        try:
            sector = Sector.objects.create(code="h4-conc-sector", name="Thử đồng thời")
            Procedure.objects.create(
                code="9.990001",
                name="Thủ tục thử đồng thời",
                sector=sector,
                agency=Agency.objects.get(code="so-tp"),
                level="province",
                online_level="full",
                processing_days=3,
            )
            citizen = user_ensure(username="h4_conc_citizen", password=STRONG_PASSWORD, role=Role.CITIZEN)
            desk = user_ensure(
                username="h4_conc_desk",
                password=STRONG_PASSWORD,
                role=Role.DESK_OFFICER,
                agency=Agency.objects.get(code="ttpvhcc"),
                service_point=ServicePoint.objects.get(code="CENTRE-MAIN"),
            )
            codes, errors = _submit_concurrently([citizen, desk] * (CONCURRENT // 2))
            assert errors == []
            assert len(codes) == CONCURRENT
            assert len(set(codes)) == CONCURRENT, codes
            assert sorted(codes) == [f"{UNIT}-310303-{n:04d}" for n in range(1, CONCURRENT + 1)]
            assert CodeCounter.objects.get(unit_identifier=UNIT, day=DAY).last == CONCURRENT
            # The indicator row took every one received, too: the desk's; the
            # citizens' online ones wait for receipt and are not counted yet (issue #15).
            assert DailyStat.objects.get(dimension="all", key=0, day=DAY).received == CONCURRENT // 2
            waiting = Dossier.objects.filter(procedure__code="9.990001", status="waiting_receipt")
            assert waiting.count() == CONCURRENT // 2
            assert Dossier.objects.filter(procedure__code="9.990001").count() == CONCURRENT
        finally:
            _cleanup()
        assert not Dossier.objects.filter(procedure__code="9.990001").exists()


def _submit_concurrently(users) -> tuple[list[str], list[BaseException]]:
    barrier = threading.Barrier(len(users))
    codes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(user, channel: int) -> None:
        try:
            submission = Submission(
                procedure_code="9.990001",
                applicant_name="Người nộp đồng thời",
                applicant_id_number=CITIZEN_A_ID,
                applicant_address="Bắc Ninh",
                channel=channel,
                receiving_point_code="CENTRE-MAIN",
            )
            barrier.wait(timeout=30)  # all start the submission at once
            dossier, _ = dossier_submit(
                submission=submission, acting_user=user, received_at=local(2031, 3, 3, 9 + channel)
            )
            with lock:
                codes.append(dossier.code)
        except BaseException as error:  # reported by the test, not lost in the thread
            with lock:
                errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=work, args=(user, 2 if user.profile.role == Role.CITIZEN else 1)) for user in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes, errors


@pytest.mark.django_db
def test_after_the_concurrency_test_the_demo_data_is_intact():
    # Runs after the committed-rows test above (file order): the session's
    # demo data is still there and nothing of that test is left.
    assert ServicePoint.objects.filter(code__in=["CENTRE-MAIN", "CENTRE-KINHBAC"]).count() == 2
    assert ServicePoint.objects.count() > 100
    assert not Procedure.objects.filter(code="9.990001").exists()
    assert not CodeCounter.objects.filter(day=DAY).exists()
    assert not DailyStat.objects.filter(day=DAY).exists()
    assert not get_user_model().objects.filter(username__startswith="h4_conc_").exists()
