"""json_body gives JSONRenderer's bytes, whatever the data (the lean answers use it)."""

import datetime as dt
import decimal
import random
import uuid

import pytest
from rest_framework.renderers import JSONRenderer

from gisportal.api import json_body


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
    with pytest.raises(ValueError):
        json_body({"x": float("nan")})
    with pytest.raises(ValueError):
        JSONRenderer().render({"x": float("nan")})
