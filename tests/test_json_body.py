"""json_body (orjson, gisportal/renderers.py) gives DRF's JSONRenderer's bytes, whatever the data (the lean
answers and every API view use it), but for NaN and the infinities, written as null where DRF raised."""

import datetime as dt
import decimal
import random
import uuid

import pytest
from rest_framework.renderers import JSONRenderer

from gisportal.api import json_body
from gisportal.renderers import JSONRenderer as PortalJSONRenderer


def _random_value(rng: random.Random, depth: int = 0):
    choices = ["float", "int", "str", "bool", "none"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(choices)
    if kind == "float":
        return rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(-1e-3, 1e-3), 10.0 ** rng.randint(-12, 20), 0.0, -0.0])
    if kind == "int":
        return rng.randint(-(2**70), 2**70)
    if kind == "str":
        alphabet = "aĐđểươ\u2028\u2029\"\\\n\t/<>&\x00\x1f😀 "
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {str(_random_value(rng, 3)): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_random_documents_render_as_drf_renders_them():
    rng = random.Random(2028)
    renderer = JSONRenderer()
    for _ in range(2000):
        value = _random_value(rng)
        assert json_body(value) == renderer.render(value)


def test_what_drf_encodes_beyond_json_and_what_it_refuses():
    value = {
        "when": dt.datetime(2026, 12, 6, 13, 5, 7, 123456, tzinfo=dt.UTC),
        "day": dt.date(2026, 12, 6),
        "amount": decimal.Decimal("12.50"),
        "id": uuid.UUID(int=7),
        "none": None,
    }
    assert json_body(value) == JSONRenderer().render(value)
    assert json_body(None) == JSONRenderer().render(None) == b""


def test_what_orjson_writes_otherwise_is_written_by_the_standard_library():
    # orjson: 1e-05 as 0.00001, 3.5e-07 as 3.5e-7; ints beyond 64 bits and int keys it refuses.
    for value in [1e-05, -3.5e-07, 5e-324, {"a": [0.00009999, 2**64, {1: "x"}]}, "e-0 and 0.0000 in text", 2**70]:
        assert json_body(value) == JSONRenderer().render(value), value


def test_nan_is_null_where_drf_raised():
    with pytest.raises(ValueError):
        JSONRenderer().render({"x": float("nan")})
    assert json_body({"x": float("nan"), "y": float("inf")}) == b'{"x":null,"y":null}'


def test_the_default_renderer_writes_json_body_and_indents_as_drf():
    value = {"a": [1, 2.5, "Đ\u2028"], "when": dt.date(2026, 12, 7)}
    assert PortalJSONRenderer().render(value) == json_body(value) == JSONRenderer().render(value)
    indented = "application/json; indent=2"
    assert PortalJSONRenderer().render(value, indented) == JSONRenderer().render(value, indented)
    assert PortalJSONRenderer().render(value, indented) != json_body(value)


def test_the_api_answers_through_the_portal_renderer(client, settings):
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == ["gisportal.renderers.JSONRenderer"]
    response = client.get("/api/v1/service-points/nearest/", {"lon": "east", "lat": "21"})  # a 400 of DRF's dispatch
    assert response.status_code == 400
    assert isinstance(response.accepted_renderer, PortalJSONRenderer)
    assert response.content == json_body(response.data)
