"""Standard clients read the OGC API from a real server: GDAL's OAPIF driver
(Debian's ogrinfo/ogr2ogr) and OWSLib. Every public layer is listed, and the
feature counts they report and read equal the database's."""

import json
import re
import shutil
import subprocess

import pytest
import shapely
from django.core.management import call_command
from django.db import connection
from owslib.ogcapi.features import Features

from layers.models import Layer, Visibility

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is not installed")


@pytest.fixture(scope="session")
def ogc_url(django_db_setup, django_db_blocker, live_server_url) -> str:
    with django_db_blocker.unblock():
        if not Layer.objects.filter(slug="land-parcels").exists():
            call_command("load_demo_registries", verbosity=0)
    return f"{live_server_url}/ogc"


@pytest.fixture
def public_counts(db) -> dict[str, int]:
    """Public layers and their feature counts, counted in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.slug, count(f.id) FROM layers_layer l LEFT JOIN layers_feature f ON f.layer_id = l.id "
            "WHERE l.visibility = %s GROUP BY l.slug",
            [Visibility.PUBLIC],
        )
        counts = dict(cursor.fetchall())
    assert {"hospitals", "schools"} <= set(counts)
    return counts


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ogrinfo_lists_every_public_layer_with_its_count(ogc_url, public_counts):
    output = run("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{ogc_url}")
    reported = {
        name: int(count)
        for name, count in re.findall(r"^Layer name: (\S+)$.*?^Feature Count: (-?\d+)$", output, re.M | re.S)
    }
    assert reported == public_counts
    # The schema link gives GDAL every field, also those the first page lacks.
    assert "addr_district: String" in output
    assert "opened_on: Date" in output


@pytest.mark.parametrize("slug", ["hospitals", "schools"])
def test_ogr2ogr_reads_every_feature_through_the_paging(ogc_url, public_counts, tmp_path, slug):
    target = tmp_path / f"{slug}.geojson"
    # GDAL keeps our integer feature ids as FIDs; -preserve_fid writes them out.
    run("ogr2ogr", "-preserve_fid", "-f", "GeoJSON", str(target), f"OAPIF:{ogc_url}", slug)
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    assert len(features) == public_counts[slug]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, ST_AsBinary(f.geom), f.properties->>'name' FROM layers_feature f "
            "JOIN layers_layer l ON l.id = f.layer_id WHERE l.slug = %s",
            [slug],
        )
        stored = {pk: (shapely.from_wkb(bytes(wkb)), name) for pk, wkb, name in cursor.fetchall()}
    read = {f["id"]: f for f in features}
    assert set(read) == set(stored)
    for pk, feature in read.items():
        geometry, name = stored[pk]
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(geometry, 1e-7)
        assert feature["properties"].get("name") == name


def test_gdal_spatial_filter_counts_what_shapely_counts(ogc_url, public_counts):
    # GDAL sends the filter as bbox=... and counts the features it pages through.
    output = run("ogrinfo", "-ro", "-so", "-spat", "106.0", "21.0", "106.3", "21.3", f"OAPIF:{ogc_url}", "schools")
    count = int(re.search(r"Feature Count: (\d+)", output).group(1))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_AsBinary(f.geom) FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id "
            "WHERE l.slug = 'schools'"
        )
        points = shapely.from_wkb([bytes(row[0]) for row in cursor.fetchall()])
    assert count == int(shapely.intersects(points, shapely.box(106.0, 21.0, 106.3, 21.3)).sum())


def test_owslib_lists_collections_and_reads_items(ogc_url, public_counts):
    client = Features(ogc_url)
    listed = {c["id"] for c in client.collections()["collections"]}
    assert listed == set(public_counts)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in client.conformance()["conformsTo"]
    for slug, count in public_counts.items():
        page = client.collection_items(slug, limit=10000)
        assert page["numberMatched"] == count
        assert page["numberReturned"] == len(page["features"]) == count
    # A page at a time, by offset, adds up to the same features.
    seen: list[int] = []
    offset = 0
    while True:
        page = client.collection_items("schools", limit=100, offset=offset)
        seen += [f["id"] for f in page["features"]]
        if page["numberReturned"] < 100:
            break
        offset += 100
    assert len(seen) == len(set(seen)) == public_counts["schools"]
