"""layer_touch: a new version and a true feature count and extent, whatever the features."""

import pytest
from django.contrib.gis.geos import Point

from gisportal.accounts.models import Agency
from layers.models import Feature
from layers.registries.services import layer_create_or_update, layer_touch


@pytest.mark.parametrize("geoms", [[Point(106.1, 21.1)], [Point(106.1, 21.1), Point(106.2, 21.1)], []])
def test_touch_extent(db, geoms):
    layer = layer_create_or_update(
        slug="t-extent",
        title="t",
        owner=Agency.objects.get(code="so-y-te"),
        geometry_type="Point",
        schema=[],
        visibility="public",
    )
    v = layer.version
    for g in geoms:
        Feature.objects.create(layer=layer, geom=g, properties={})
    layer_touch(layer)
    assert layer.version == v + 1 and layer.feature_count == len(geoms)
    if geoms:
        for g in geoms:
            assert layer.extent.covers(g), (layer.extent.wkt, g.wkt)
    else:
        assert layer.extent is None
