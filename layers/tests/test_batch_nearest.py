"""Batch nearest (`layers.batch_nearest`, `manage.py nearest_batch`, the
Celery task): every answer checked against a brute force over all service
points with pyproj's geodesic, computed here."""

import io
import random

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db import connection
from pyproj import Geod

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier
from layers.batch_nearest import nearest_assign, nearest_run_create
from layers.models import Feature, GeometryType, NearestAssignment, NearestRun, ServicePoint, ServicePointKind
from layers.tasks import nearest_run_task
from layers.tests.fixtures_registry import make_layer

GEOD = Geod(ellps="WGS84")


def _brute_force(lon: float, lat: float, points: list[tuple[int, float, float]]) -> tuple[int, float]:
    """(id, metres) of the nearest of `points` (id, lon, lat); ties to the lower id."""
    best = None
    for point_id, s_lon, s_lat in points:
        metres = GEOD.inv(lon, lat, s_lon, s_lat)[2]
        if best is None or (metres, point_id) < (best[1], best[0]):
            best = (point_id, metres)
    return best


def _active(kind: str) -> list[tuple[int, float, float]]:
    return [
        (pk, g.x, g.y) for pk, g in ServicePoint.objects.filter(is_active=True, kind=kind).values_list("pk", "geom")
    ]


def test_nearest_assign_equals_a_geodesic_brute_force():
    """Clustered and sparse service points, points on top of them, in empty
    corners and 300 km away (the wider blocks and the every-pair pass), and
    exact ties (two service points at one place)."""
    rng = random.Random(5)
    sps = [(rng.uniform(105.9, 106.3), rng.uniform(20.95, 21.3)) for _ in range(150)]
    sps += [(106.05 + rng.gauss(0, 0.003), 21.18 + rng.gauss(0, 0.003)) for _ in range(100)]  # a town
    sps.append(sps[7])  # a tie: the lower id must win
    sp_ids = np.arange(1000, 1000 + len(sps), dtype=np.int64)[::-1].copy()  # ids not in position order
    points = [(rng.uniform(105.7, 106.5), rng.uniform(20.8, 21.5)) for _ in range(1200)]
    points += [sps[rng.randrange(len(sps))] for _ in range(50)]
    points += [(108.9, 21.0), (106.0, 23.9), (103.0, 19.0)]
    lon, lat = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    got_ids, got_m = nearest_assign(
        lon=lon, lat=lat, sp_ids=sp_ids, sp_lon=np.array([s[0] for s in sps]), sp_lat=np.array([s[1] for s in sps])
    )
    truth = [(int(i), s[0], s[1]) for i, s in zip(sp_ids, sps, strict=True)]
    for k, (p_lon, p_lat) in enumerate(points):
        expected_id, expected_m = _brute_force(p_lon, p_lat, truth)
        assert (int(got_ids[k]), got_m[k]) == (expected_id, pytest.approx(expected_m, abs=1e-6)), points[k]
    tie = points.index(sps[7]) if sps[7] in points else None
    if tie is not None:
        assert int(got_ids[tie]) == min(int(sp_ids[7]), int(sp_ids[-1]))


@pytest.fixture
def registry_points(db):
    """A Point registry of 400 features in and around the province."""
    layer = make_layer("batch-nearest-clinics")
    rng = random.Random(9)
    Feature.objects.bulk_create(
        Feature(layer=layer, geom=Point(rng.uniform(105.8, 106.4), rng.uniform(20.9, 21.4), srid=4326), properties={})
        for _ in range(400)
    )
    return layer


def _assignments(run: NearestRun) -> dict[int, tuple[int, float]]:
    return {a.point_id: (a.service_point_id, a.distance_m) for a in NearestAssignment.objects.filter(run=run)}


def test_the_command_assigns_every_feature_in_chunks(registry_points):
    out = io.StringIO()
    call_command(
        "nearest_batch", "--source", "features", "--layer", registry_points.slug, "--kind", "post_office",
        "--chunk", "70", stdout=out, verbosity=0,
    )  # fmt: skip
    run = NearestRun.objects.get()
    assert run.status == NearestRun.Status.SUCCEEDED and run.points == 400
    assert f"Run {run.pk}: 400 points of features" in out.getvalue()
    got = _assignments(run)
    truth = _active(ServicePointKind.POST_OFFICE)
    assert run.service_points == len(truth) > 10
    features = Feature.objects.filter(layer=registry_points).values_list("pk", "geom")
    assert set(got) == {pk for pk, _ in features}
    for pk, geom in features:
        expected_id, expected_m = _brute_force(geom.x, geom.y, truth)
        assert got[pk] == (expected_id, pytest.approx(expected_m, abs=1e-6))
    assert run.max_distance_m == pytest.approx(max(m for _, m in got.values()))


def test_the_task_assigns_the_dossiers(db):
    """The Celery task's function on a queued run (the queue itself is the
    outbox's, tested with imports): every located dossier, nothing else."""
    commune_committees_ensure()
    dossier_history_generate(count=250, years=1, seed=4, with_events=False)
    run = nearest_run_create(source="dossiers", kind=ServicePointKind.COMMUNE_DESK, enqueue=False)
    nearest_run_task(run.pk)
    run.refresh_from_db()
    assert run.status == NearestRun.Status.SUCCEEDED
    got = _assignments(run)
    located = Dossier.objects.exclude(location=None).values_list("pk", "location")
    assert len(got) == len(located) == run.points > 0
    truth = _active(ServicePointKind.COMMUNE_DESK)
    for pk, location in located:
        expected_id, expected_m = _brute_force(location.x, location.y, truth)
        assert got[pk] == (expected_id, pytest.approx(expected_m, abs=1e-6))
    nearest_run_task(run.pk)  # a duplicate message claims nothing and changes nothing
    assert _assignments(run) == got


def test_a_run_that_fails_midway_leaves_no_rows(registry_points):
    """A real failure after two chunks were written (a trigger refusing one
    late row): the run is failed with the reason, and has no rows at all."""
    late = Feature.objects.filter(layer=registry_points).order_by("-pk").values_list("pk", flat=True)[5]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION pg_temp.refuse_late() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.point_id = {late} THEN RAISE EXCEPTION 'refused row %', NEW.point_id; END IF;
                RETURN NEW; END $$;
                CREATE TRIGGER refuse_late BEFORE INSERT ON layers_nearestassignment
                FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_late()"""
        )
    with pytest.raises(Exception, match="refused row"):
        call_command(
            "nearest_batch", "--source", "features", "--layer", registry_points.slug, "--kind", "post_office",
            "--chunk", "150", verbosity=0,
        )  # fmt: skip
    run = NearestRun.objects.get()
    assert run.status == NearestRun.Status.FAILED and "refused row" in run.message
    assert not NearestAssignment.objects.filter(run=run).exists()
    assert NearestAssignment.objects.count() == 0


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (["--source", "parcels", "--kind", "post_office"], "--source"),
        (["--source", "dossiers", "--kind", "bakery"], "--kind"),
        (["--source", "features", "--kind", "post_office"], "--layer"),
        (["--source", "dossiers", "--kind", "post_office", "--layer", "batch-nearest-clinics"], "--layer"),
        (["--source", "features", "--kind", "post_office", "--layer", "no-such-layer"], "--layer"),
        (["--source", "features", "--kind", "post_office", "--layer", "batch-nearest-areas"], "--layer"),
        (["--source", "dossiers", "--kind", "post_office", "--chunk", "0"], "--chunk"),
        (["--source", "dossiers", "--kind", "post_office", "--chunk", "20000000"], "--chunk"),
        (["--source", "dossiers", "--kind", "post_office", "--user", "nobody-here"], "--user"),
    ],
)
def test_bad_arguments_name_the_field_and_change_nothing(registry_points, arguments, field):
    make_layer("batch-nearest-areas", geometry_type=GeometryType.POLYGON)
    with pytest.raises(CommandError) as raised:
        call_command("nearest_batch", *arguments, verbosity=0)
    assert str(raised.value).startswith(field), str(raised.value)
    assert " / " in str(raised.value)  # Vietnamese / English
    assert not NearestRun.objects.exists()


def test_a_kind_without_active_service_points_fails_cleanly(registry_points):
    ServicePoint.objects.filter(kind=ServicePointKind.PROVINCIAL_CENTRE).update(is_active=False)
    with pytest.raises(CommandError, match="no active service point"):
        call_command(
            "nearest_batch", "--source", "features", "--layer", registry_points.slug, "--kind", "provincial_centre",
            verbosity=0,
        )  # fmt: skip
    assert NearestRun.objects.get().status == NearestRun.Status.FAILED
    assert not NearestAssignment.objects.exists()


# --- the planners' API ---------------------------------------------------------------------------

RUNS_URL = "/api/v1/analytics/nearest-runs/"


def test_the_api_starts_a_run_and_shows_its_loads(registry_points, make_user, client_as):
    planner = client_as(make_user("batch-planner", role="leader", agency="so-tp"))
    started = planner.post(RUNS_URL, {"source": "features", "kind": "post_office", "layer": registry_points.slug})
    assert started.status_code == 202, started.content
    run_id = started.json()["id"]
    assert started.json()["status"] == "queued"
    waiting = planner.get(f"{RUNS_URL}{run_id}/")
    assert waiting.status_code == 200 and waiting.json()["service_point_loads"] == []
    nearest_run_task(run_id)  # what the worker does with the message
    done = planner.get(f"{RUNS_URL}{run_id}/").json()
    assert done["status"] == "succeeded" and done["points"] == 400
    truth = _active(ServicePointKind.POST_OFFICE)
    codes = dict(ServicePoint.objects.values_list("pk", "code"))
    expected = {}
    for geom in Feature.objects.filter(layer=registry_points).values_list("geom", flat=True):
        expected_id, _ = _brute_force(geom.x, geom.y, truth)
        expected[codes[expected_id]] = expected.get(codes[expected_id], 0) + 1
    assert {load["code"]: load["points"] for load in done["service_point_loads"]} == expected


def test_the_api_refuses_bad_input_and_strangers(registry_points, make_user, client_as):
    planner = client_as(make_user("batch-planner-2", role="leader", agency="so-tp"))
    for body, field in [
        ({"kind": "post_office"}, "source"),
        ({"source": "dossiers"}, "kind"),
        ({"source": "parcels", "kind": "post_office"}, "source"),
        ({"source": "dossiers", "kind": "bakery"}, "kind"),
        ({"source": "features", "kind": "post_office"}, "layer"),
        ({"source": "features", "kind": "post_office", "layer": "no-such-layer"}, "layer"),
    ]:
        response = planner.post(RUNS_URL, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json() and " / " in response.json()[field][0]
    assert client_as(None).post(RUNS_URL, {"source": "dossiers", "kind": "post_office"}).status_code == 401
    citizen = client_as(make_user("batch-citizen"))
    assert citizen.post(RUNS_URL, {"source": "dossiers", "kind": "post_office"}).status_code == 403
    assert not NearestRun.objects.exists()
    assert planner.get(f"{RUNS_URL}999999/").status_code == 404
