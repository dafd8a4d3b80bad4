"""A partition of layers_feature per registry layer: made with the layer,
swapped whole by a replace import, dropped with the layer; the properties
the importer writes as JSON are what PostgreSQL's jsonb_build_object made."""

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from django.db import connection

from layers.models import Feature, Layer
from layers.registries.importing import _properties_json, import_job_create, layer_import
from layers.registries.partitions import (
    DEFAULT_PARTITION,
    partition_attached,
    partition_name,
    partition_table_create,
    partition_table_index,
)
from layers.registries.removal import layer_delete
from layers.tests.fixtures_registry import SCHEMA, make_layer, sample_points, write_gpkg


@pytest.fixture(autouse=True)
def media(tmp_path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _tables(pattern: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind = 'r' ORDER BY 1", [pattern])
        return [name for (name,) in cursor.fetchall()]


def _replace(layer: Layer, path: Path):
    job = import_job_create(
        layer=layer, acting_user=None, source_name=path.name, mode="replace", path=path, enqueue=False
    )
    return layer_import(job=job)


@pytest.mark.django_db
def test_a_layer_gets_its_partition_and_a_replace_swaps_it_whole(tmp_path):
    layer = make_layer("test-partition-swap", schema=SCHEMA)
    assert partition_attached(layer.pk) == partition_name(layer.pk)
    first = _replace(layer, write_gpkg(sample_points(40, seed=1), tmp_path / "a.gpkg"))
    first_ids = set(Feature.objects.filter(layer=layer).values_list("id", flat=True))
    second = _replace(layer, write_gpkg(sample_points(30, seed=2), tmp_path / "b.gpkg"))
    assert (first.status, second.status) == ("succeeded", "succeeded")

    # Only the second file's rows, all in the layer's own partition, under new ids from the shared sequence.
    assert _one(f"SELECT count(*) FROM {partition_name(layer.pk)}")[0] == 30
    assert _one(f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE layer_id = %s", [layer.pk])[0] == 0
    ids = set(Feature.objects.filter(layer=layer).values_list("id", flat=True))
    assert len(ids) == 30 and not ids & first_ids and min(ids) > max(first_ids)
    layer.refresh_from_db()
    assert layer.feature_count == 30
    # The swapped-in table carries the partition's check, key, indexes and foreign key; no staging is left.
    (check,) = _one(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'", [partition_name(layer.pk)]
    )
    assert check == 1
    (definition,) = _one(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [partition_name(layer.pk)],
    )
    assert definition == "PRIMARY KEY (id, layer_id)"
    (methods,) = _one(
        """SELECT array_agg(am.amname ORDER BY am.amname) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
           WHERE i.indrelid = %s::regclass""",
        [partition_name(layer.pk)],
    )
    assert methods == ["btree", "gin", "gist"]
    (foreign,) = _one(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [partition_name(layer.pk)]
    )
    assert foreign == 1
    assert _tables("import_partition_%") == [] and _tables("import_staging_%") == []


@pytest.mark.django_db
def test_deleting_a_layer_drops_its_partition(tmp_path):
    layer = make_layer("test-partition-delete", schema=SCHEMA)
    _replace(layer, write_gpkg(sample_points(10), tmp_path / "a.gpkg"))
    name = partition_name(layer.pk)
    layer_delete(layer=layer, acting_user=None)
    assert _tables(name) == []
    assert not Feature.objects.filter(layer_id=layer.pk).exists()


@pytest.mark.django_db
def test_a_layer_made_without_the_service_keeps_its_features_in_default_until_it_gets_a_partition():
    from layers.registries.partitions import layer_partition_ensure

    other = make_layer("test-partition-service")
    layer = Layer.objects.create(slug="test-partition-orm", title="ORM", owner=other.owner, geometry_type="Point")
    Feature.objects.create(layer=layer, geom="SRID=4326;POINT(106.05 21.15)", properties={"name": "a"})
    assert partition_attached(layer.pk) is None
    assert _one(f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE layer_id = %s", [layer.pk])[0] == 1
    layer_partition_ensure(layer.pk)
    assert _one(f"SELECT count(*) FROM {partition_name(layer.pk)}")[0] == 1
    assert _one(f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE layer_id = %s", [layer.pk])[0] == 0
    assert Feature.objects.get(layer=layer).properties == {"name": "a"}


def test_the_indexes_are_built_in_two_sessions_outside_a_transaction(django_db_setup, django_db_blocker):
    """What an import does with a committed table: the GIN in a second
    session. Outside the test's transaction (the other session must see the
    table); the table is dropped afterwards."""
    table = "import_partition_test_build"
    with django_db_blocker.unblock():
        assert not connection.in_atomic_block
        layer_id = Layer.objects.order_by("pk").values_list("pk", flat=True).first()
        try:
            partition_table_create(table=table, layer_id=layer_id)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (layer_id, geom, properties, created_at, updated_at) "
                    "SELECT %s, ST_SetSRID(ST_MakePoint(106 + i / 1e4, 21), 4326), jsonb_build_object('n', i), "
                    "now(), now() FROM generate_series(1, 500) i",
                    [layer_id],
                )
            partition_table_index(table)
            (count,) = _one("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [table])
            (keys,) = _one(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'f')", [table]
            )
            assert (count, keys) == (3, 1)  # the foreign key comes with ATTACH
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.django_db
def test_properties_json_is_what_jsonb_build_object_made():
    fields = [
        {"name": "tên", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "x", "type": "number"},
        {"name": "ok", "type": "boolean"},
        {"name": "d", "type": "date"},
    ]
    values = [
        ['Trạm "y tế"\\ \t\n\x01 ✓', None, "", "a", "b", "c", "d"],
        [2**62, -1, None, 0, 5, 6, 7],
        [0.1 + 0.2, 2.0, 1e20, None, -0.0, 1e-7, 123456.789012345678],
        [True, False, None, True, False, True, None],
        ["2024-01-31", None, "1990-01-01", "x", "y", "z", None],
    ]
    rows = len(values[0])
    keys = [f'"{f["name"]}":' for f in fields]
    # Values parsed one by one (lists) and columns read typed (Arrow arrays) write the same.
    written = _properties_json(keys, fields, values, rows).to_pylist()
    arrow_types = [pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.string()]
    columns = [pa.array(column, kind) for column, kind in zip(values, arrow_types, strict=True)]
    written_arrow = _properties_json(keys, fields, columns, rows).to_pylist()
    with connection.cursor() as cursor:
        for i, text in [*enumerate(written), *enumerate(written_arrow)]:
            cursor.execute(
                "SELECT %s::jsonb = jsonb_strip_nulls(jsonb_build_object('tên', %s::text, 'n', %s::bigint, "
                "'x', %s::float8, 'ok', %s::boolean, 'd', %s::text)), "
                "%s::jsonb::text = jsonb_strip_nulls(jsonb_build_object('tên', %s::text, 'n', %s::bigint, "
                "'x', %s::float8, 'ok', %s::boolean, 'd', %s::text))::text",
                [text, *(column[i] for column in values), text, *(column[i] for column in values)],
            )
            assert cursor.fetchone() == (True, True), text
    assert _properties_json([], [], [], 3).to_pylist() == ["{}", "{}", "{}"]
    assert all(math.isfinite(v) for v in values[2] if v is not None)


def test_a_swap_blocked_by_a_long_read_gives_up_and_leaves_the_layer_unchanged(
    tmp_path, monkeypatch, django_db_setup, django_db_blocker
):
    """Its DETACH would queue every reader of every layer behind a long
    transaction: after a short lock timeout, tried a few times, the import
    fails with the layer as it was. Committed (outside the test's
    transaction, whose own locks would be the long read); the layer is
    deleted afterwards."""
    from layers.registries import importing, partitions
    from tests.live import own_connection

    monkeypatch.setattr(partitions, "SWAP_LOCK_TIMEOUT_S", 0.2)
    monkeypatch.setattr(importing, "SWAP_RETRY_PAUSE_S", 0)
    with django_db_blocker.unblock():
        layer = make_layer("test-partition-busy", schema=SCHEMA)
        try:
            _replace(layer, write_gpkg(sample_points(10, seed=1), tmp_path / "a.gpkg"))
            before = sorted(Feature.objects.filter(layer=layer).values_list("id", flat=True))
            with own_connection() as reader:
                reader.execute("SELECT count(*) FROM layers_feature")  # holds its lock until rolled back
                job = _replace(layer, write_gpkg(sample_points(20, seed=2), tmp_path / "b.gpkg"))
                reader.rollback()
            assert job.status == "failed" and "layer is unchanged" in job.message, job.message
            assert sorted(Feature.objects.filter(layer=layer).values_list("id", flat=True)) == before
            assert _tables("import_partition_%") == []
        finally:
            layer_delete(layer=layer, acting_user=None)


# --- string fields whose values all differ: a btree each, out of the GIN ------------

ODD = 'mã "hồ sơ" 100%\'s'  # quotes and a "%" in a field's name: literals in the index and the filter
DISTINCT_SCHEMA = [*SCHEMA, {"name": "district", "type": "string"}, {"name": ODD, "type": "string"}]


def _distinct_sample(n: int):
    sample = sample_points(n, seed=7)
    for i, properties in enumerate(sample.properties):
        properties["district"] = f"Huyện {i % 6}"  # six values: stays in the GIN
        properties[ODD] = f"HS-{i:05d}"
    return sample


def _indexes(layer: Layer, pattern: str) -> list[tuple[str, str]]:
    """The name and method-and-expression of each index of the layer's partition whose definition is LIKE `pattern`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND pg_get_indexdef(indexrelid) LIKE %s ORDER BY 2",
            [partition_name(layer.pk), pattern],
        )
        return [(name, definition.partition(" USING ")[2]) for name, definition in cursor.fetchall()]


def _properties_indexes(layer: Layer) -> list[str]:
    return [using for _, using in _indexes(layer, "%properties%")]


def _index_like(layer: Layer, pattern: str) -> str:
    ((name, _),) = _indexes(layer, pattern)
    return name


def _plan(sql: str, values: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # whether an index *can* serve it, at 400 rows
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT f.id FROM layers_feature f WHERE {sql}", values)
        plan = json.dumps(cursor.fetchone()[0])
        cursor.execute("SET LOCAL enable_seqscan = on")
        return plan


@pytest.mark.django_db
def test_string_fields_whose_values_all_differ_get_a_btree_and_every_filter_answers_as_the_file_says(
    tmp_path, monkeypatch, wsgi
):
    from layers.registries import partitions
    from layers.registries.ogc import ItemsQuery, _where
    from layers.registries.selectors import features_of, layer_read_lean
    from layers.tests.fixtures_registry import _table, _write
    from tests.lean import answered_lean_as_django, environ

    monkeypatch.setattr(partitions, "DISTINCT_MIN_ROWS", 100)
    sample = _distinct_sample(400)
    layer = make_layer("test-partition-distinct", schema=DISTINCT_SCHEMA, visibility="public")
    path = _write(_table(sample, schema=DISTINCT_SCHEMA), tmp_path / "d.gpkg", "GPKG", geometry_type="Point")
    assert _replace(layer, path).status == "succeeded"
    layer.refresh_from_db()
    assert sorted(layer.distinct_fields) == sorted(["name", ODD])
    assert layer_read_lean(layer.slug).distinct_fields == layer.distinct_fields
    indexes = _properties_indexes(layer)
    assert len(indexes) == 3
    (gin,) = [i for i in indexes if i.startswith("gin ")]
    assert gin.startswith("gin (((properties - '{name,\"mã") and "district" not in gin
    assert sum("->> 'name'::text" in i for i in indexes) == 1

    # Every filter against the file's rows, counted here: the OGC items (lean and Django
    # alike) and the export's queryset.
    cases = [
        {"name": sample.properties[17]["name"]},
        {"district": "Huyện 2"},
        {"district": "Huyện 2", "name": sample.properties[20]["name"]},  # 20 % 6 == 2
        {"district": "Huyện 3", "name": sample.properties[20]["name"]},  # none
        {ODD: "HS-00043", "beds": str(sample.properties[43]["beds"])},  # 43 % 7: it has beds
        {"name": sample.properties[5]["name"], "active": "true"},
    ]
    counts = []
    for filters in cases:
        expected = [
            i
            for i, p in enumerate(sample.properties)
            if all(str(p.get(k)).lower() == v.lower() if k in ("beds", "active") else p.get(k) == v
                   for k, v in filters.items())
        ]  # fmt: skip
        _, _, body = answered_lean_as_django(
            wsgi, environ({**filters, "limit": "1000"}, path=f"/ogc/collections/{layer.slug}/items")
        )
        found = json.loads(body)["features"]
        assert sorted(f["properties"]["name"] for f in found) == sorted(sample.properties[i]["name"] for i in expected)
        assert features_of(layer=layer, properties=filters).count() == len(expected)
        counts.append(len(expected))
    assert counts[:1] + counts[2:] == [1, 1, 0, 1, 1] and counts[1] == 400 // 6 + 1  # each case means what it says

    # The index each filter's own statement can use: the btree for a distinct field, the GIN for the others.
    def plan_of(filters: dict) -> str:
        return _plan(*_where(layer, ItemsQuery(limit=10, equals=filters)))

    assert _index_like(layer, "%->> 'name'%") in plan_of({"name": sample.properties[3]["name"]})
    assert _index_like(layer, "%USING gin%") in plan_of({"district": "Huyện 1"})

    # A replace import below the threshold: the whole properties in the GIN again, and the layer says so.
    monkeypatch.undo()
    assert _replace(layer, write_gpkg(sample_points(50, seed=8), tmp_path / "e.gpkg")).status == "succeeded"
    layer.refresh_from_db()
    assert layer.distinct_fields == []
    assert _properties_indexes(layer) == ["gin (properties jsonb_path_ops)"]
    name = sample_points(50, seed=8).properties[9]["name"]
    assert features_of(layer=layer, properties={"name": name}).count() == 1


@pytest.mark.django_db
def test_every_partition_has_its_own_gin_and_the_parent_none():
    """Migration 0010: the DEFAULT partition and every layer's (the GIN is
    each partition's own, so that a layer's may leave fields out)."""
    (parent,) = _one(
        "SELECT count(*) FROM pg_index WHERE indrelid = 'layers_feature'::regclass "
        "AND pg_get_indexdef(indexrelid) LIKE '%%USING gin%%'"
    )
    assert parent == 0
    (missing,) = _one(
        """SELECT count(*) FROM pg_inherits i WHERE i.inhparent = 'layers_feature'::regclass AND NOT EXISTS (
               SELECT 1 FROM pg_index x
               WHERE x.indrelid = i.inhrelid AND pg_get_indexdef(x.indexrelid) LIKE '%%USING gin%%')"""
    )
    (partitions,) = _one("SELECT count(*) FROM pg_inherits WHERE inhparent = 'layers_feature'::regclass")
    assert partitions >= 1 and missing == 0
