"""The demo dossier history: codes and counters, where applicants live
(checked with shapely against the unit polygons), working-day times and the
calendar rules of the services, event chains, proportions, re-runs."""

import datetime as dt
import io
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from django.db.models import Count
from django.utils import timezone

from dossiers.calendar import working_calendar
from dossiers.models import OPEN_STATUSES, CodeCounter, DailyStat, Dossier, DossierEvent
from dossiers.workflow import BY_ACTION
from gisportal.accounts.models import Agency
from gisportal.accounts.validators import citizen_id_problem
from layers.models import AdministrativeUnit, ServicePoint

from .conftest import local
from .stats_support import history_generate

COUNT = 3000
CODE = re.compile(r"^(?P<unit>\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-(?P<day>\d{6})-(?P<number>\d{4})$")


@pytest.fixture
def history(catalogue, points):
    return history_generate(count=COUNT, seed=5)


def _shapes(era: str) -> dict[int, shapely.Geometry]:
    units = AdministrativeUnit.objects.filter(era=era, level="commune")
    return {unit.pk: shapely.from_wkb(bytes(unit.geom.wkb)) for unit in units}


@pytest.mark.django_db
def test_codes_are_unique_sequential_and_the_counter_continues(history, submit, points):
    dossiers = list(
        Dossier.objects.filter(is_demo=True)
        .select_related("receiving_point")
        .order_by("received_at", "id")
        .values_list("code", "receiving_point__receiving_unit_identifier", "received_at")
    )
    assert len(dossiers) == COUNT == len({code for code, _, _ in dossiers})
    numbers = defaultdict(list)
    for code, unit, received_at in dossiers:
        match = CODE.match(code)
        assert match, code
        assert match["unit"] == unit
        assert match["day"] == f"{timezone.localtime(received_at):%y%m%d}"
        numbers[(unit, timezone.localtime(received_at).date())].append(int(match["number"]))
    # Per unit and day, in order of receipt: 1, 2, 3, ...
    for key, sequence in numbers.items():
        assert sequence == list(range(1, len(sequence) + 1)), key
    counters = {(c.unit_identifier, c.day): c.last for c in CodeCounter.objects.all()}
    assert all(counters[key] == len(sequence) for key, sequence in numbers.items())

    # A live submission at a unit and day of the history takes the next number.
    unit = points.centre.receiving_unit_identifier
    day = max((d for (u, d), s in numbers.items() if u == unit and len(s) >= 2), default=None)
    assert day is not None, "the history has no busy day at CENTRE-MAIN"
    dossier = submit(received_at=local(day.year, day.month, day.day, 16, 59))
    assert dossier.code == f"{unit}-{day:%y%m%d}-{len(numbers[(unit, day)]) + 1:04d}"


@pytest.mark.django_db
def test_applicants_live_inside_their_communes_spread_by_population(catalogue, points):
    # Enough applicants that chance does not blur the population shares
    # (about 80 per 2019 commune); events are not needed here.
    count = 10_000
    history_generate(count=count, seed=8, with_events=False)
    old, new = _shapes("2019"), _shapes("2025")
    tree = shapely.STRtree(list(old.values()))
    old_ids = list(old)
    rows = list(
        Dossier.objects.filter(is_demo=True).values_list("location", "applicant_commune_id", "applicant_address")
    )
    names = dict(AdministrativeUnit.objects.filter(era="2025", level="commune").values_list("pk", "full_name"))
    per_old = Counter()
    for location, commune_id, address in rows:
        point = shapely.Point(location.x, location.y)
        assert new[commune_id].contains(point), (commune_id, location.wkt)
        containing = tree.query(point, predicate="within")
        # Inside a 2019 commune (a few of the simplified polygons overlap a little).
        assert len(containing) >= 1, location.wkt
        for index in containing:
            per_old[old_ids[index]] += 1 / len(containing)
        assert names[commune_id] in address and address.startswith("Số ")
    population = dict(
        AdministrativeUnit.objects.filter(era="2019", level="commune", population__gt=0).values_list("pk", "population")
    )
    counts = np.array([per_old.get(pk, 0) for pk in population])
    people = np.array(list(population.values()), dtype=float)
    assert np.corrcoef(counts, people)[0, 1] > 0.9
    # Chi-square of the counts against the population shares: well within
    # what chance gives for 125 degrees of freedom (p < 0.001 beyond ~182).
    assert len(rows) == count
    expected = people / people.sum() * len(rows)
    assert ((counts - expected) ** 2 / expected).sum() < 182


@pytest.mark.django_db
def test_times_and_deadlines_follow_the_calendar_rules(history, catalogue):
    calendar = working_calendar()
    now = timezone.now()
    dossiers = Dossier.objects.filter(is_demo=True).select_related("procedure")
    for d in dossiers:
        received = timezone.localtime(d.received_at)
        assert calendar.is_working_day(received.date()), d.code
        assert calendar.day_start <= received.time() < calendar.day_end, d.code
        assert d.received_at < now
        # Due: N working days after the day of receipt, plus the days lost to a supplement.
        base = calendar.due_at(d.received_at, d.procedure.processing_days)
        expected_due = calendar.end_of(
            calendar.add_working_days(timezone.localtime(base).date(), d.paused_working_days)
        )
        assert d.due_at == expected_due, d.code
        if d.finished_at is None:
            assert d.timeliness == "" and d.processing_working_days is None, d.code
            continue
        # As services._classify.
        finished_day, due_day = timezone.localtime(d.finished_at).date(), timezone.localtime(d.due_at).date()
        expected = "early" if finished_day < due_day else "on_time" if finished_day == due_day else "late"
        assert d.timeliness == expected, d.code
        worked = calendar.working_days_between(calendar.counting_day(d.received_at), finished_day)
        assert d.processing_working_days == max(worked - d.paused_working_days, 0), d.code
        assert d.finished_at <= now and d.received_at < d.finished_at
        assert d.status in ("refused", "result_ready", "result_returned"), d.code
        assert (d.returned_at is not None) == (d.status == "result_returned")


@pytest.mark.django_db
def test_every_step_has_its_event_in_a_legal_chain(history):
    events = defaultdict(list)
    recorded = defaultdict(list)  # steps of other apps (a fee paid): they change no status
    for event in DossierEvent.objects.filter(dossier__is_demo=True).order_by("at", "id"):
        (events if event.action == "submit" or event.action in BY_ACTION else recorded)[event.dossier_id].append(event)
    dossiers = {d.pk: d for d in Dossier.objects.filter(is_demo=True)}
    assert set(events) == set(dossiers)
    for pk, steps in recorded.items():
        for step in steps:
            status_then = [e.to_status for e in events[pk] if e.at <= step.at][-1]
            assert step.from_status == step.to_status == status_then, step.action
    for pk, chain in events.items():
        dossier = dossiers[pk]
        # Issue #15: an online dossier is submitted, then received by the desk; others received at once.
        if dossier.channel == 2:
            assert (chain[0].action, chain[0].from_status, chain[0].actor_role) == ("submit", "", "citizen")
            assert chain[0].at == dossier.submitted_at < dossier.received_at
            assert (chain[1].action, chain[1].actor_role) == ("receive", "desk_officer")
            assert chain[1].at == dossier.received_at
            assert timezone.localtime(dossier.submitted_at).date() == timezone.localtime(dossier.received_at).date()
            chain = chain[1:]
        else:
            assert chain[0].action == "receive" and chain[0].from_status == "" and chain[0].at == dossier.received_at
            assert dossier.submitted_at == dossier.received_at
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.at > before.at
            assert after.from_status == before.to_status
            transition = BY_ACTION[after.action]
            assert after.from_status in transition.sources and after.to_status == transition.target, after.action
            assert after.actor_role in transition.roles, (after.action, after.actor_role)
        assert chain[-1].to_status == dossier.status
        if dossier.finished_at is not None:
            finishing = next(e for e in chain if e.to_status in ("result_ready", "refused"))
            assert finishing.at == dossier.finished_at
    roles = Counter(e.actor_role for chain in events.values() for e in chain)
    assert set(roles) == {"citizen", "desk_officer", "processing_officer", "leader"}


@pytest.mark.django_db
def test_proportions_are_plausible(history):
    dossiers = Dossier.objects.filter(is_demo=True)
    channels = Counter(dossiers.values_list("channel", flat=True))
    assert 0.30 < channels[2] / COUNT < 0.50  # online, rising from 30 % to 50 %
    assert 0.03 < channels[3] / COUNT < 0.12  # post
    old = dossiers.filter(received_at__lt=timezone.now() - dt.timedelta(days=300))
    recent = dossiers.filter(received_at__gte=timezone.now() - dt.timedelta(days=120))
    assert recent.filter(channel=2).count() / recent.count() > old.filter(channel=2).count() / old.count()
    finished = Counter(dossiers.exclude(finished_at=None).values_list("timeliness", flat=True))
    total = sum(finished.values())
    assert 0.6 < finished["early"] / total < 0.9
    assert 0.08 < finished["on_time"] / total < 0.3
    assert 0.01 < finished["late"] / total < 0.12
    statuses = Counter(dossiers.values_list("status", flat=True))
    assert statuses["result_returned"] / COUNT > 0.8
    assert statuses["refused"] + statuses["withdrawn"] + statuses["stopped"] > 0
    # The last two weeks are mostly still open.
    last_days = dossiers.filter(received_at__gte=timezone.now() - dt.timedelta(days=10))
    assert last_days.filter(status__in=OPEN_STATUSES).count() / max(last_days.count(), 1) > 0.3


@pytest.mark.django_db
def test_applicants_receiving_points_and_agencies(history, catalogue, points):
    centre_kinds = {"CENTRE-MAIN", "CENTRE-KINHBAC"}
    committees = dict(Agency.objects.filter(kind="peoples_committee").values_list("admin_unit_code", "pk"))
    point_units = dict(ServicePoint.objects.values_list("pk", "admin_unit_id"))
    for d in Dossier.objects.filter(is_demo=True).select_related("procedure", "receiving_point", "applicant_commune"):
        assert citizen_id_problem(d.applicant_id_number) is None, d.applicant_id_number
        assert d.applicant_id_number[:3] in ("027", "024")
        assert len(d.applicant_name.split()) >= 3 and d.location is not None
        point = d.receiving_point
        if d.channel == 3:
            assert point.kind == "post_office" and point_units[point.pk] == d.applicant_commune_id
        elif d.procedure.level == "commune":
            assert point.kind == "commune_desk" and point_units[point.pk] == d.applicant_commune_id
        else:
            assert point.code in centre_kinds
        # As services._handling_agency.
        if d.procedure.level == "commune" and point.admin_unit_id:
            assert d.agency_id == committees[point.admin_unit.code if point.admin_unit else ""]
        else:
            assert d.agency_id == d.procedure.agency_id
        assert (d.result_delivery == "post") == bool(d.delivery_address)
        assert d.fee_vnd == d.procedure.fee_vnd


@pytest.mark.django_db
def test_rerun_replaces_demo_rows_and_keeps_live_ones(catalogue, points, submit):
    history_generate(count=400, seed=1)
    first_ids = set(Dossier.objects.filter(is_demo=True).values_list("pk", flat=True))
    # A live dossier on a past working day at CENTRE-MAIN, then a new history.
    calendar = working_calendar()
    day = timezone.localdate() - dt.timedelta(days=30)
    while not calendar.is_working_day(day):
        day -= dt.timedelta(days=1)
    live = submit(received_at=local(day.year, day.month, day.day, 9, 0))
    # Issue #15: one still waiting for receipt keeps its number too (codes are dated by submission).
    waiting = submit(received_at=local(day.year, day.month, day.day, 9, 30), receive=False)
    timings = history_generate(count=700, seed=2)
    assert timings["delete_mode"] == "delete"  # a live dossier is there: no TRUNCATE
    assert Dossier.objects.filter(is_demo=True).count() == 700
    assert Dossier.objects.filter(pk=live.pk, is_demo=False, code=live.code).exists()
    assert not DossierEvent.objects.filter(dossier_id__in=first_ids).exists()
    assert DossierEvent.objects.filter(dossier=live).count() == 2  # submitted online, then received
    assert Dossier.objects.filter(pk=waiting.pk, code=waiting.code, status="waiting_receipt").exists()
    # Demo codes at the live dossier's unit and day come after its number.
    prefix = live.code.rsplit("-", 1)[0]
    numbers = sorted(
        int(c.rsplit("-", 1)[1]) for c in Dossier.objects.filter(code__startswith=prefix).values_list("code", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    # The indicator table was rebuilt from all dossiers.
    assert DailyStat.objects.filter(dimension="all").aggregate(n=Count("id"))["n"] > 0
    received = sum(DailyStat.objects.filter(dimension="all").values_list("received", flat=True))
    assert received == Dossier.objects.count() - 1  # all but the one waiting for receipt


@pytest.mark.django_db
def test_load_demo_dossiers_command(catalogue, points):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("load_demo_dossiers", count=300, seed=4, stdout=out)
    assert Dossier.objects.filter(is_demo=True).count() == 300
    assert "300 demo dossiers and" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("load_demo_dossiers", count=0, verbosity=0)
