"""docs/analysts.md's recipes, run as written against the project's own live
server: the OGC API read page by page and the GeoJSON and CSV exports come
into GeoDataFrames whose rows, CRS and geometries equal the database's."""

import re
from pathlib import Path

import pytest
import shapely
from django.conf import settings

from layers.models import Feature, Layer

RECIPES = Path(settings.BASE_DIR) / "docs" / "analysts.md"


@pytest.fixture(scope="module")
def recipe() -> dict:
    """The namespace the document's function definitions make."""
    blocks = re.findall(r"```python\n(.*?)```", RECIPES.read_text(encoding="utf-8"), re.S)
    namespace: dict = {}
    for block in blocks:
        if "def " in block:  # the other blocks are examples against a made-up host
            exec(compile(block, str(RECIPES), "exec"), namespace)  # noqa: S102 - our own document
    assert {"read_ogc_items", "read_export"} <= set(namespace)
    return namespace


def _stored(slug: str) -> dict[int, shapely.Geometry]:
    layer = Layer.objects.get(slug=slug)
    return {
        pk: shapely.from_wkb(bytes(geom.wkb))
        for pk, geom in Feature.objects.filter(layer=layer).values_list("pk", "geom")
    }


def test_ogc_items_paged_into_a_geodataframe(recipe, live_server_url, db):
    stored = _stored("schools")
    assert len(stored) > 250  # so that a limit of 100 takes several pages
    frame = recipe["read_ogc_items"](f"{live_server_url}/ogc", "schools", limit=100)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == len(stored)
    assert set(frame["id"].astype(int)) == set(stored)
    for fid, geometry in zip(frame["id"].astype(int), frame.geometry, strict=True):
        assert shapely.equals_exact(geometry, stored[fid], tolerance=1e-7)


def test_ogc_items_with_a_bbox(recipe, live_server_url, db):
    bbox = (106.0, 21.1, 106.1, 21.2)
    box = shapely.box(*bbox)
    expected = {pk for pk, geometry in _stored("schools").items() if box.intersects(geometry)}
    frame = recipe["read_ogc_items"](f"{live_server_url}/ogc", "schools", limit=50, bbox=bbox)
    assert set(frame["id"].astype(int)) == expected


@pytest.mark.parametrize("format", ["geojson", "csv"])
def test_export_into_a_geodataframe(recipe, live_server_url, db, format):
    stored = _stored("hospitals")
    frame = recipe["read_export"](live_server_url, "hospitals", format=format)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == len(stored) > 0
    # Every stored point is in the frame, and nothing else.
    drawn = sorted((round(g.x, 6), round(g.y, 6)) for g in frame.geometry)
    assert drawn == sorted((round(g.x, 6), round(g.y, 6)) for g in stored.values())
