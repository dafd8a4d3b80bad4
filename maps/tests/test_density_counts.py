"""The pre-counted density rows (DensityCount) and the stored 2019 commune.

- The rows kept up to date by the services (submissions, status moves) are
  exactly the rows a rebuild from the dossiers gives.
- For random periods (edges mid-month, within one month, whole months) and
  any single filter or none, the density answer, read from the pre-counted
  rows and the dossiers of the edge days, equals a count made here from each
  dossier's location with h3 and shapely.
- The 2019 commune stored with each dossier (by the service and by the demo
  generator) is the first by code whose outline holds its location, found
  here with shapely."""

import datetime as dt
import random
from collections import Counter

import h3
import pytest
import shapely
from django.utils import timezone

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.density_counts import density_rebuild
from dossiers.models import DensityCount, DensityDayCount, DensityQuarterCount, Dossier, Status
from dossiers.tests import conftest as dossier_fixtures
from layers.models import AdministrativeUnit
from maps.density import DensityFilters, density_commune_counts, density_h3_counts

catalogue = dossier_fixtures.catalogue
points = dossier_fixtures.points
people = dossier_fixtures.people
submit = dossier_fixtures.submit
drive = dossier_fixtures.drive

# Places inside the province (lon, lat): the provincial centre, Từ Sơn, Thuận Thành.
PLACES = [(106.0763, 21.1861), (105.9570, 21.1170), (106.0860, 21.0560)]


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=2500, years=2, seed=11, with_events=False)


@pytest.fixture
def moved(history, submit, drive, people):
    """Dossiers from the service in known places, walked to several states."""
    states = ["received", "processing", "waiting_supplement", "approved", "refused", "result_returned"]
    made = []
    for i, state in enumerate(states * 2):
        lon, lat = PLACES[i % len(PLACES)]
        dossier = submit(user=people.desk_main, channel=1, lon=lon, lat=lat)
        made.append(drive(dossier, state))
    return made


def _snapshot() -> dict:
    return {(r.month, r.area, r.cell, r.dimension, r.key): r.dossiers for r in DensityCount.objects.exclude(dossiers=0)}


def _day_snapshot() -> dict:
    rows = DensityDayCount.objects.exclude(dossiers=0)
    return {(r.day, r.area, r.cell, r.dimension, r.key): r.dossiers for r in rows}


def _quarter_snapshot() -> dict:
    rows = DensityQuarterCount.objects.all()
    return {(r.quarter, r.area, r.cell, r.dimension, r.key): r.dossiers for r in rows}


def test_kept_rows_equal_a_rebuild(moved):
    kept, kept_days, kept_quarters = _snapshot(), _day_snapshot(), _quarter_snapshot()
    assert kept, "the services wrote no rows"
    assert DensityCount.objects.filter(dossiers__lt=0).count() == 0
    rebuilt_rows = density_rebuild()
    rebuilt = _snapshot()
    assert rebuilt_rows == len(rebuilt) == len(kept)
    assert kept == rebuilt
    # The day rows, for no filter, a procedure, a channel and the pair, through the status moves.
    assert {key[3] for key in kept_days} == {"all", "procedure", "channel", "proc_chan"}
    assert kept_days == _day_snapshot()
    # The quarter sums: the moved dossiers are in a quarter not ended, so the rebuild sums the same.
    assert kept_quarters and kept_quarters == _quarter_snapshot()


def _dossiers() -> list[tuple]:
    zone = timezone.get_current_timezone()
    return [
        (d.location.x, d.location.y, d.received_at.astimezone(zone).date(), d.procedure_id,
         d.procedure.sector_id, d.channel, d.status, d.applicant_commune_id)
        for d in Dossier.objects.select_related("procedure")
    ]  # fmt: skip


def _communes_2019() -> list[tuple[int, shapely.Geometry]]:
    return [
        (unit.id, shapely.from_wkb(bytes(unit.geom.wkb)))
        for unit in AdministrativeUnit.objects.filter(era="2019", level="commune").order_by("code")
    ]


def _first_holding(units, lon: float, lat: float) -> int | None:
    point = shapely.Point(lon, lat)
    return next((unit_id for unit_id, polygon in units if polygon.intersects(point)), None)


def test_random_periods_and_filters_equal_an_independent_count(moved):
    rows = _dossiers()
    units = _communes_2019()
    old_commune = {(lon, lat): _first_holding(units, lon, lat) for lon, lat, *_ in rows}
    days = sorted({r[2] for r in rows})
    rng = random.Random(7)
    filters_tried = Counter()
    for _ in range(40):
        a, b = sorted(rng.sample(days, 2))
        if rng.random() < 0.25:  # a period inside one month, or whole months
            b = a + dt.timedelta(days=rng.randrange(0, 20))
        elif rng.random() < 0.25:
            a = a.replace(day=1)
            b = (b.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        pick = rng.choice(rows)
        name = rng.choice(["none", "procedure", "sector", "channel", "status"])
        filters_tried[name] += 1
        chosen = {
            "none": {},
            "procedure": {"procedure_id": pick[3]},
            "sector": {"sector_id": pick[4]},
            "channel": {"channel": pick[5]},
            "status": {"status": pick[6]},
        }[name]
        filters = DensityFilters(date_from=a, date_to=b, **chosen)
        selected = [
            r
            for r in rows
            if a <= r[2] <= b
            and chosen.get("procedure_id", r[3]) == r[3]
            and chosen.get("sector_id", r[4]) == r[4]
            and chosen.get("channel", r[5]) == r[5]
            and chosen.get("status", r[6]) == r[6]
        ]
        res = rng.choice([6, 7, 8, 9])
        expected = Counter(h3.latlng_to_cell(lat, lon, res) for lon, lat, *_ in selected)
        got = density_h3_counts(filters=filters, res=res)
        assert {h3.int_to_str(c): n for c, n in got.items()} == dict(expected), (a, b, name, res)
        communes = {r["code"]: r["count"] for r in density_commune_counts(filters=filters, era="2019")}
        by_id = dict(AdministrativeUnit.objects.filter(era="2019", level="commune").values_list("id", "code"))
        expected_old = Counter(by_id[old_commune[(r[0], r[1])]] for r in selected)
        assert {k: v for k, v in communes.items() if v} == dict(expected_old)
        communes = {r["code"]: r["count"] for r in density_commune_counts(filters=filters, era="2025")}
        by_id = dict(AdministrativeUnit.objects.filter(era="2025", level="commune").values_list("id", "code"))
        assert {k: v for k, v in communes.items() if v} == dict(Counter(by_id[r[7]] for r in selected))
    assert all(filters_tried[name] for name in ("none", "procedure", "sector", "channel", "status"))


def test_a_status_move_moves_the_count(history, submit, drive, people):
    lon, lat = PLACES[0]
    dossier = submit(user=people.desk_main, channel=1, lon=lon, lat=lat)
    day = timezone.localtime(dossier.received_at).date()
    filters = {s: DensityFilters(date_from=day, date_to=day, status=s) for s in (Status.RECEIVED, Status.REFUSED)}
    # A whole month, so the answer comes from the pre-counted rows.
    month = day.replace(day=1)
    whole = {
        s: DensityFilters(
            date_from=month, date_to=(month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1), status=s
        )
        for s in (Status.RECEIVED, Status.REFUSED)
    }
    cell = h3.latlng_to_cell(lat, lon, 8)
    cell_int = h3.str_to_int(cell)
    before = {s: density_h3_counts(filters=f, res=8).get(cell_int, 0) for s, f in whole.items()}
    assert density_h3_counts(filters=filters[Status.RECEIVED], res=8)[cell_int] >= 1
    drive(dossier, "refused")
    after = {s: density_h3_counts(filters=f, res=8).get(cell_int, 0) for s, f in whole.items()}
    assert after[Status.RECEIVED] == before[Status.RECEIVED] - 1
    assert after[Status.REFUSED] == before[Status.REFUSED] + 1


def test_the_2019_commune_is_stored_by_the_service_and_the_generator(history, submit, people):
    units = _communes_2019()
    made = [submit(user=people.desk_main, channel=1, lon=lon, lat=lat) for lon, lat in PLACES]
    without = submit(user=people.desk_main, channel=1)
    assert without.location is None and without.applicant_commune_2019_id is None
    stored = Dossier.objects.exclude(location=None).values_list("location", "applicant_commune_2019_id")
    assert len(stored) == 2500 + len(made)
    for location, commune_id in stored:
        assert commune_id == _first_holding(units, location.x, location.y)


_RAW_COUNT_SQL = """SELECT h3_r8, count(*) FROM dossiers_dossier d
    WHERE (d.received_at AT TIME ZONE %(tz)s)::date BETWEEN %(a)s AND %(b)s
      AND (%(procedure)s::bigint IS NULL OR d.procedure_id = %(procedure)s)
      AND (%(sector)s::bigint IS NULL
           OR d.procedure_id IN (SELECT id FROM dossiers_procedure WHERE sector_id = %(sector)s))
      AND (%(channel)s::int IS NULL OR d.channel = %(channel)s)
      AND (%(status)s::text IS NULL OR d.status = %(status)s)
    GROUP BY 1"""


def test_two_and_three_filters_equal_an_independent_count_and_a_raw_count(moved):
    """Pairs of filters come from the pre-counted pair rows for whole months
    (three from the dossiers); the answer equals the h3 count made here and a
    raw COUNT over the dossiers."""
    from django.db import connection

    rows = _dossiers()
    days = sorted({r[2] for r in rows})
    rng = random.Random(13)
    names = ["procedure_id", "sector_id", "channel", "status"]
    tried = Counter()
    for i in range(36):
        a, b = sorted(rng.sample(days, 2))
        if i % 3 == 0:  # whole months: the pre-counted rows alone
            a = a.replace(day=1)
            b = (b.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        pick = rng.choice(rows)
        values = dict(zip(names, (pick[3], pick[4], pick[5], pick[6]), strict=True))
        chosen = {name: values[name] for name in rng.sample(names, 2 if i % 4 else 3)}
        if i % 9 == 4:  # a procedure outside the chosen sector: nothing
            chosen = {"sector_id": pick[4], "procedure_id": next(r[3] for r in rows if r[4] != pick[4])}
        tried[tuple(sorted(chosen))] += 1
        filters = DensityFilters(date_from=a, date_to=b, **chosen)
        selected = [
            r for r in rows if a <= r[2] <= b and all(chosen.get(n, v) == v for n, v in zip(names, r[3:7], strict=True))
        ]
        expected = Counter(h3.latlng_to_cell(lat, lon, 8) for lon, lat, *_ in selected)
        got = density_h3_counts(filters=filters, res=8)
        assert {h3.int_to_str(c): n for c, n in got.items()} == dict(expected), (a, b, chosen)
        with connection.cursor() as cursor:
            cursor.execute(
                _RAW_COUNT_SQL,
                {"tz": timezone.get_current_timezone_name(), "a": a, "b": b, "procedure": chosen.get("procedure_id"),
                 "sector": chosen.get("sector_id"), "channel": chosen.get("channel"), "status": chosen.get("status")},
            )  # fmt: skip
            assert got == dict(cursor.fetchall())
        by_id = dict(AdministrativeUnit.objects.filter(era="2025", level="commune").values_list("id", "code"))
        communes = {r["code"]: r["count"] for r in density_commune_counts(filters=filters, era="2025")}
        assert {k: v for k, v in communes.items() if v} == dict(Counter(by_id[r[7]] for r in selected))
    assert len(tried) >= 6, tried


def test_pair_rows_are_read_for_two_filters(history):
    """Two filters over whole months read DensityCount only (no dossier scan),
    and procedure and channel over any days also DensityDayCount."""
    from maps.density import density_counts_sql

    dossier = Dossier.objects.exclude(received_at=None).first()
    month = timezone.localtime(dossier.received_at).date().replace(day=1)
    end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    for extra in ({"channel": dossier.channel}, {"status": dossier.status}):
        sql, _ = density_counts_sql(
            DensityFilters(date_from=month, date_to=end, procedure_id=dossier.procedure_id, **extra), 8
        )
        assert "dossiers_dossier" not in sql and "dossiers_densitycount" in sql
    sql, _ = density_counts_sql(
        DensityFilters(date_from=month, date_to=end, channel=dossier.channel, status=dossier.status), 9
    )
    assert "dossiers_dossier" in sql  # resolution 9 keeps no filtered rows
    # A period with edge days (mid-month to mid-month): the days come from the day rows too,
    # unless a filter is the status (a status move would have to move day rows).
    middle = month + dt.timedelta(days=10)
    later = end + dt.timedelta(days=40)
    sql, _ = density_counts_sql(
        DensityFilters(date_from=middle, date_to=later, procedure_id=dossier.procedure_id, channel=dossier.channel), 8
    )
    assert "dossiers_dossier" not in sql and "dossiers_densitydaycount" in sql
    sql, _ = density_counts_sql(
        DensityFilters(date_from=middle, date_to=later, procedure_id=dossier.procedure_id, status=dossier.status), 8
    )
    assert "dossiers_dossier" in sql


def test_migration_0015_counts_the_pairs_a_rebuild_counts(history):
    """The migration's own SQL (not the live module) gives the pair rows of
    the dossiers already there."""
    import importlib
    from types import SimpleNamespace

    from django.db import connection

    pairs = ("proc_chan", "proc_stat", "chan_stat")
    rebuilt = {k: v for k, v in _snapshot().items() if k[3] in pairs}
    assert len(rebuilt) > 1000
    migration = importlib.import_module("dossiers.migrations.0015_density_pairs")
    migration.drop_pairs(None, SimpleNamespace(connection=connection))
    assert not DensityCount.objects.filter(dimension__in=pairs).exists()
    migration.count_pairs(None, SimpleNamespace(connection=connection))
    assert {k: v for k, v in _snapshot().items() if k[3] in pairs} == rebuilt


FILTER_FIELDS = ("procedure_id", "sector_id", "channel", "status")  # r[3:7] of `_dossiers`


def _expected_h3(rows: list[tuple], a: dt.date, b: dt.date, chosen: dict, res: int = 8) -> dict[str, int]:
    """The count made here: the dossiers received from a to b (included)
    that every chosen filter keeps, per H3 cell of their location."""
    kept = [all(chosen.get(n, v) == v for n, v in zip(FILTER_FIELDS, r[3:7], strict=True)) for r in rows]
    selected = [r for r, keep in zip(rows, kept, strict=True) if keep and a <= r[2] <= b]
    return dict(Counter(h3.latlng_to_cell(lat, lon, res) for lon, lat, *_ in selected))


def test_an_edge_is_read_from_the_fewer_days():
    """A part-month edge of the period is its own days (+1) or its whole month
    less the month's other days (-1), whichever reads fewer days; days after
    today are none."""
    from maps.density import _period_split

    day = dt.date
    today = day(2026, 12, 7)

    def split(a, b):
        return _period_split(DensityFilters(date_from=a, date_to=b), today)

    # The default period (a year back to today): last December less its first 7 days, this December less the future.
    assert split(day(2025, 12, 8), today) == (
        (day(2025, 12, 1), day(2027, 1, 1)),
        [(day(2025, 12, 1), day(2025, 12, 8), -1), (day(2026, 12, 8), day(2027, 1, 1), -1)],
    )
    # Short edges are their own days.
    assert split(day(2026, 3, 20), day(2026, 5, 5)) == (
        (day(2026, 4, 1), day(2026, 5, 1)),
        [(day(2026, 3, 20), day(2026, 4, 1), 1), (day(2026, 5, 1), day(2026, 5, 6), 1)],
    )
    # Within one month: 18 days, or the month less 2 + 11 days.
    assert split(day(2026, 3, 3), day(2026, 3, 20)) == (
        (day(2026, 3, 1), day(2026, 4, 1)),
        [(day(2026, 3, 1), day(2026, 3, 3), -1), (day(2026, 3, 21), day(2026, 4, 1), -1)],
    )
    assert split(day(2026, 3, 10), day(2026, 3, 15)) == (None, [(day(2026, 3, 10), day(2026, 3, 16), 1)])
    assert split(day(2026, 12, 1), today) == (
        (day(2026, 12, 1), day(2027, 1, 1)),
        [(today + dt.timedelta(1), day(2027, 1, 1), -1)],
    )
    assert split(day(2026, 1, 1), day(2026, 3, 31)) == ((day(2026, 1, 1), day(2026, 4, 1)), [])
    # Two part-months and no whole one between them.
    assert split(day(2026, 2, 25), day(2026, 3, 4)) == (
        None,
        [(day(2026, 2, 25), day(2026, 3, 1), 1), (day(2026, 3, 1), day(2026, 3, 5), 1)],
    )


def test_periods_read_as_months_less_days_equal_an_independent_count(moved):
    """Periods whose edges are taken from whole months (a year back to today,
    this month to today, most of a past month), with no filter, the pre-counted
    pair, and a status (its edge days counted from the dossiers), equal the h3
    count made here."""
    from maps.density import density_counts_sql

    rows = _dossiers()
    today = timezone.localdate()
    past = (today.replace(day=1) - dt.timedelta(days=200)).replace(day=1)
    periods = [
        (today.replace(year=today.year - 1) + dt.timedelta(days=1), today),
        (today.replace(day=1), today),
        (past + dt.timedelta(days=2), past + dt.timedelta(days=25)),
    ]
    for a, b in periods:
        pick = next(r for r in rows if a <= r[2] <= b)  # a pair and a status with dossiers in the period
        for chosen in ({}, {"procedure_id": pick[3], "channel": pick[5]}, {"status": pick[6]}):
            filters = DensityFilters(date_from=a, date_to=b, **chosen)
            sql, _ = density_counts_sql(filters, 8)
            assert "-c.dossiers" in sql or "-count(*)" in sql, (a, b, chosen)
            got = density_h3_counts(filters=filters, res=8)
            assert {h3.int_to_str(c): n for c, n in got.items()} == _expected_h3(rows, a, b, chosen), (a, b, chosen)
            assert got, (a, b, chosen)


def test_a_quarter_is_summed_the_day_after_it_ends():
    from dossiers.density_counts import quarters_ended_before

    day = dt.date
    assert quarters_ended_before(day(2026, 4, 1)) == day(2026, 1, 1)  # Q1 ended yesterday: a transaction may be open
    assert quarters_ended_before(day(2026, 4, 2)) == day(2026, 4, 1)
    assert quarters_ended_before(day(2026, 12, 7)) == day(2026, 10, 1)
    assert quarters_ended_before(day(2027, 1, 1)) == day(2026, 10, 1)


def _quarter_of(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def test_ended_quarters_are_summed_and_read_in_place_of_their_months(history):
    """The history's rebuild sums every ended quarter (and no other) into rows
    equal to a count made here from each dossier; the default period reads
    them; a quarter not summed (its mark, or its mark and rows, gone) is read
    from its months, with the same answer; closing sums it again."""
    from django.db import connection

    from dossiers.density_counts import density_quarters_close, quarters_ended_before
    from dossiers.models import DensityQuarterCount, DensityQuarterSummed
    from maps.density import density_counts_sql

    rows = _dossiers()
    today = timezone.localdate()
    limit = quarters_ended_before(today)
    expected_quarters, quarter = [], _quarter_of(min(r[2] for r in rows))
    while quarter < limit:  # every quarter from the first dossier's to the last ended one
        expected_quarters.append(quarter)
        quarter = _quarter_of(quarter + dt.timedelta(days=92))
    summed = sorted(DensityQuarterSummed.objects.values_list("quarter", flat=True))
    assert summed == expected_quarters and len(summed) >= 6
    assert not DensityQuarterCount.objects.filter(quarter__gte=limit).exists()
    # Rows per quarter and res-8 cell, unfiltered and for each procedure and channel pair.
    got = Counter()
    for q in DensityQuarterCount.objects.filter(area=8, dimension__in=["all", "proc_chan"]):
        got[(q.quarter, q.cell, q.dimension, q.key)] = q.dossiers
    expected = Counter()
    for lon, lat, day, procedure, _sector, channel, *_ in rows:
        quarter = _quarter_of(day)
        if quarter < limit:
            cell = h3.str_to_int(h3.latlng_to_cell(lat, lon, 8))
            expected[(quarter, cell, "all", 0)] += 1
            expected[(quarter, cell, "proc_chan", procedure * 64 + int(channel))] += 1
    assert got == expected

    period = (today.replace(year=today.year - 1) + dt.timedelta(days=1), today)
    pick = next(r for r in rows if period[0] <= r[2] <= period[1] and _quarter_of(r[2]) < limit)
    cases = [{}, {"procedure_id": pick[3], "channel": pick[5]}, {"procedure_id": pick[3]}]

    def check(label: str) -> None:
        for chosen in cases:
            filters = DensityFilters(date_from=period[0], date_to=period[1], **chosen)
            answer = density_h3_counts(filters=filters, res=8)
            want = _expected_h3(rows, *period, chosen)
            assert {h3.int_to_str(c): n for c, n in answer.items()} == want, (label, chosen)
            assert answer, (label, chosen)

    sql, _ = density_counts_sql(DensityFilters(date_from=period[0], date_to=period[1]), 8)
    assert "dossiers_densityquartercount" in sql
    check("summed")
    some = [q for q in summed if q > period[0]][:2]
    assert some
    DensityQuarterSummed.objects.filter(quarter=some[0]).delete()  # its rows left: not read without the mark
    check("a mark gone")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dossiers_densityquartercount WHERE quarter = ANY(%s)", [some])
    DensityQuarterSummed.objects.filter(quarter__in=some).delete()
    check("two quarters not summed")
    assert density_quarters_close() == 2
    assert sorted(DensityQuarterSummed.objects.values_list("quarter", flat=True)) == summed
    check("summed again")
    assert density_quarters_close() == 0
