"""Characters that str.isdigit() calls digits but int() cannot read (the
superscript ¹, the circled ①) reached int() and answered 500 on the feature
pages of the registry API and the OGC API (found by schemathesis). They are
now no feature (404); decimal digits of other scripts read as numbers."""

from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

ODD = ["¹", "²³", "①", "٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣٣"]


@pytest.mark.parametrize("raw", ODD)
def test_a_feature_id_of_odd_digits_is_no_feature(api, raw):
    response = api.get(f"/api/v1/layers/hospitals/features/{quote(raw)}/")
    assert response.status_code == 404, response.content[:300]
    ogc = api.get(f"/ogc/collections/hospitals/items/{quote(raw)}?f=json")
    assert ogc.status_code == 404, ogc.content[:300]


def test_a_real_feature_is_still_found(api):
    from layers.models import Feature

    feature = Feature.objects.filter(layer__slug="hospitals").order_by("pk").first()
    assert feature is not None
    assert api.get(f"/api/v1/layers/hospitals/features/{feature.pk}/").status_code == 200
    assert api.get(f"/ogc/collections/hospitals/items/{feature.pk}?f=json").status_code == 200
