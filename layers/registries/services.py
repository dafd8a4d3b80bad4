"""Writes shared by every registry operation (import, edit, demo)."""

from django.db import connection, transaction

from gisportal.accounts.models import Agency

from ..models import Layer
from .partitions import layer_partition_ensure


@transaction.atomic
def layer_create_or_update(
    *,
    slug: str,
    title: str,
    owner: Agency,
    geometry_type: str,
    schema: list[dict],
    visibility: str,
    description: str = "",
    time_field: str = "",
    attribution: str = "",
    license: str = "",
    is_demo: bool = False,
) -> Layer:
    layer, _ = Layer.objects.update_or_create(
        slug=slug,
        defaults={
            "title": title,
            "owner": owner,
            "geometry_type": geometry_type,
            "schema": schema,
            "visibility": visibility,
            "description": description,
            "time_field": time_field,
            "attribution": attribution,
            "license": license,
            "is_demo": is_demo,
        },
    )
    layer_partition_ensure(layer.pk)
    return layer


def layer_touch(layer: Layer) -> None:
    """After any change of a layer's features: a new version (tile and count
    caches key on it), and a fresh feature count and extent. Call inside the
    transaction that made the change. Two statements: the features are read
    alone (in the Citus mode layers_feature is a table of the coordinator and
    layers_layer a reference table, which one UPDATE ... FROM would join)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.n,
                -- A single point or features on one line have a flat box, which
                -- ST_Envelope returns as a Point or LineString: widen it to a polygon.
                CASE WHEN s.n = 0 THEN NULL ELSE ST_AsEWKB(ST_MakeEnvelope(
                    ST_XMin(s.box), ST_YMin(s.box), greatest(ST_XMax(s.box), ST_XMin(s.box) + 1e-9),
                    greatest(ST_YMax(s.box), ST_YMin(s.box) + 1e-9), 4326)) END
            FROM (SELECT count(*) AS n, ST_Extent(geom) AS box FROM layers_feature WHERE layer_id = %s) s
            """,
            [layer.pk],
        )
        count, extent = cursor.fetchone()
        cursor.execute(
            """
            UPDATE layers_layer SET version = version + 1, updated_at = now(), feature_count = %s,
                extent = ST_GeomFromEWKB(%s)
            WHERE id = %s
            """,
            [count, extent, layer.pk],
        )
    layer.refresh_from_db(fields=["version", "feature_count", "extent", "updated_at"])
