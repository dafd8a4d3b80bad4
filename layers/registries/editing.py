"""Edits of registry features one at a time (the API and the map).

Each edit: checks that the actor may edit the layer, validates the geometry
(GeoJSON, valid, of the layer's type, at most MAX_VERTICES vertices, inside
the province with a margin) and the properties (the layer's schema and its
types), then in one transaction changes the feature, writes a FeatureChange
(who, when, before, after) and calls layer_touch. Anything refused raises
before the first write, so a refusal changes nothing."""

import datetime as dt
import json
import math
import re
from typing import Any

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import (
    GEOSException,
    GEOSGeometry,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    WKBWriter,
)
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gisportal.accounts.selectors import Actor
from gisportal.api import message

from ..models import Era, Feature, FeatureChange, GeometryType, Layer, UnitLevel
from .selectors import layer_can_edit
from .services import layer_touch

MAX_VERTICES = 10_000
MAX_TEXT_LENGTH = 10_000
# About 5.5 km around the province outline: parcels and facilities on the
# border, and small digitising errors, pass; a point in Hà Nội's centre does not.
PROVINCE_MARGIN_DEG = 0.05
MULTI_OF = {
    GeometryType.MULTIPOINT: GeometryType.POINT,
    GeometryType.MULTILINESTRING: GeometryType.LINESTRING,
    GeometryType.MULTIPOLYGON: GeometryType.POLYGON,
}
MULTI_CLASSES = {
    GeometryType.MULTIPOINT: MultiPoint,
    GeometryType.MULTILINESTRING: MultiLineString,
    GeometryType.MULTIPOLYGON: MultiPolygon,
}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GEOJSON_TYPES = frozenset(GeometryType.values) | {"GeometryCollection"}


class FeatureInvalid(Exception):
    """Bad input; `errors` maps each offending field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _invalid(name: str, vi: str, en: str) -> FeatureInvalid:
    return FeatureInvalid({name: [message(vi, en)]})


# --- geometry -------------------------------------------------------------------


def geometry_from_geojson(
    data: Any, *, field: str = "geometry", allowed_types: frozenset[str] | None = None
) -> GEOSGeometry:
    """A 2D EPSG:4326 geometry from a GeoJSON geometry object, checked: valid,
    bounded in size, inside the province with a margin; FeatureInvalid naming
    `field` otherwise."""
    geojson_shape_check(data, field=field, allowed_types=allowed_types)
    try:
        geom = GEOSGeometry(json.dumps(data), srid=4326)
    except (GEOSException, GDALException, ValueError, TypeError) as exc:  # GeoJSON is read through GDAL
        raise _invalid(field, *UNREADABLE) from exc
    return geometry_checked(geom, field=field)


UNREADABLE = ("Không đọc được hình học GeoJSON.", "Unreadable GeoJSON geometry.")


def geojson_shape_check(data: Any, *, field: str, allowed_types: frozenset[str] | None) -> None:
    """A GeoJSON geometry object (type and coordinates) of an allowed type,
    before anything parses it; FeatureInvalid naming `field` otherwise."""
    if not isinstance(data, dict) or data.get("type") not in GEOJSON_TYPES or "coordinates" not in data:
        raise _invalid(
            field,
            "Phải là một đối tượng hình học GeoJSON (type và coordinates).",
            "Must be a GeoJSON geometry object (type and coordinates).",
        )
    if allowed_types is not None and data["type"] not in allowed_types:
        listed = ", ".join(sorted(allowed_types))
        raise _invalid(field, f"Kiểu hình học phải là: {listed}.", f"Geometry type must be one of: {listed}.")


def geometry_checked(geom: GEOSGeometry, *, field: str) -> GEOSGeometry:
    """The parsed geometry as stored (2D, EPSG:4326) once it is known to be
    non-empty, at most MAX_VERTICES vertices, in WGS84 bounds, valid and
    inside the province with a margin; FeatureInvalid naming `field` otherwise."""
    if geom.srid is None:
        geom.srid = 4326
    if geom.empty:
        raise _invalid(field, "Hình học rỗng.", "The geometry is empty.")
    if geom.num_coords > MAX_VERTICES:
        raise _invalid(
            field,
            f"Quá {MAX_VERTICES} đỉnh ({geom.num_coords}).",
            f"More than {MAX_VERTICES} vertices ({geom.num_coords}).",
        )
    if geom.hasz:
        writer = WKBWriter()
        writer.outdim = 2  # heights are not stored
        geom = GEOSGeometry(writer.write(geom), srid=4326)
    min_x, min_y, max_x, max_y = geom.extent
    if not all(math.isfinite(v) for v in (min_x, min_y, max_x, max_y)) or not (
        -180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90
    ):
        raise _invalid(
            field,
            "Toạ độ phải là kinh độ, vĩ độ WGS84 (EPSG:4326).",
            "Coordinates must be WGS84 longitude, latitude (EPSG:4326).",
        )
    if not geom.valid:
        raise _invalid(field, f"Hình học không hợp lệ: {geom.valid_reason}.", f"Invalid geometry: {geom.valid_reason}.")
    if not geometry_in_province(geom):
        raise _invalid(
            field,
            "Hình học nằm ngoài tỉnh (quá lề cho phép).",
            "The geometry lies outside the province (beyond the allowed margin).",
        )
    return geom


def geometry_in_province(geom: GEOSGeometry) -> bool:
    """Inside the portal's province (current era) grown by PROVINCE_MARGIN_DEG.
    Without a loaded province outline there is nothing to check against."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ST_Covers(ST_Buffer(coalesce(geom_simplified, geom), %s), ST_GeomFromEWKB(%s))
            FROM layers_administrativeunit WHERE era = %s AND level = %s AND code = %s
            """,
            [
                PROVINCE_MARGIN_DEG,
                bytes(geom.ewkb),
                Era.POST_2025,
                UnitLevel.PROVINCE,
                settings.PORTAL_PROVINCE_CODE,
            ],
        )
        row = cursor.fetchone()
    return True if row is None else bool(row[0])


def layer_geometry_types(layer: Layer) -> frozenset[str]:
    """The GeoJSON types a feature of the layer may have (a single part for a multi-part layer too)."""
    expected = layer.geometry_type
    return frozenset({expected, MULTI_OF.get(expected)} - {None})


def _geometry_for_layer(layer: Layer, data: Any) -> GEOSGeometry:
    """`data`: a GeoJSON geometry object, or a geometry the API's serializer
    parsed (layers/registries/serializers.py); checked here either way."""
    expected = layer.geometry_type
    single = MULTI_OF.get(expected)
    allowed = layer_geometry_types(layer)
    if isinstance(data, GEOSGeometry):
        if data.geom_type not in allowed:
            listed = ", ".join(sorted(allowed))
            raise _invalid("geometry", f"Kiểu hình học phải là: {listed}.", f"Geometry type must be one of: {listed}.")
        geom = geometry_checked(data.clone(), field="geometry")
    else:
        geom = geometry_from_geojson(data, allowed_types=allowed)
    if single and geom.geom_type == single:
        # A single part for a multi-part layer: stored as a one-part collection.
        geom = MULTI_CLASSES[expected](geom, srid=4326)
    return geom


# --- properties -----------------------------------------------------------------


def _clean_value(kind: str | None, value: Any, name: str) -> Any:
    """The value as stored, or FeatureInvalid naming the property."""
    wrong = _invalid(name, f"Phải là giá trị kiểu {kind}.", f"Must be a value of type {kind}.")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise wrong
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if not isinstance(value, str):
        raise wrong
    if "\x00" in value:  # PostgreSQL jsonb cannot hold NUL
        raise _invalid(name, "Có ký tự NUL.", "Contains a NUL character.")
    if len(value) > MAX_TEXT_LENGTH:
        raise _invalid(name, f"Dài quá {MAX_TEXT_LENGTH} ký tự.", f"Longer than {MAX_TEXT_LENGTH} characters.")
    if kind == "date":
        bad_date = _invalid(name, "Ngày không hợp lệ, dùng YYYY-MM-DD.", "Invalid date; use YYYY-MM-DD.")
        if not DATE_RE.match(value):
            raise bad_date
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise bad_date from exc
    if kind == "datetime":
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise _invalid(name, "Thời điểm không hợp lệ (RFC 3339).", "Invalid date-time (RFC 3339).")
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
        return parsed.isoformat()
    return value


def properties_clean(*, layer: Layer, properties: Any, partial: bool = False, field: str = "properties") -> dict:
    """Properties checked against the layer's schema: unknown names and wrong
    types are refused by name. `None` means "no value" (on a partial update:
    remove the value). Fields marked `required` must keep a value."""
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise _invalid(field, "Phải là một đối tượng JSON.", "Must be a JSON object.")
    fields = {f["name"]: f for f in layer.schema if f.get("name")}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in properties.items():
        if name not in fields:
            errors.setdefault(name, []).append(
                message("Lớp dữ liệu không có trường này.", "The layer's schema has no such field.")
            )
            continue
        if value is None:
            if partial:
                cleaned[name] = None
            continue
        try:
            cleaned[name] = _clean_value(fields[name].get("type"), value, name)
        except FeatureInvalid as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
    if not partial:
        for name, spec in fields.items():
            if spec.get("required") and cleaned.get(name) is None and name not in errors:
                errors.setdefault(name, []).append(message("Thiếu giá trị bắt buộc.", "A value is required."))
    if errors:
        raise FeatureInvalid(errors)
    return cleaned


# --- the services -----------------------------------------------------------------


def _snapshot(feature: Feature) -> dict:
    return {"geometry": json.loads(feature.geom.json), "properties": feature.properties}


def editor_require(*, actor: Actor, layer: Layer) -> None:
    if not layer_can_edit(actor=actor, layer=layer):
        raise PermissionDenied(
            message("Bạn không có quyền sửa lớp dữ liệu này.", "You may not edit this layer's features.")
        )


def _record_change(
    *, actor: Actor, layer: Layer, feature_id: int, action: str, before: dict | None, after: dict | None
) -> None:
    """The change row and the new layer version, in the caller's transaction."""
    FeatureChange.objects.create(
        layer=layer, feature_id=feature_id, action=action, user_id=actor.user_id, before=before, after=after
    )
    layer_touch(layer)


@transaction.atomic
def feature_create(*, actor: Actor, layer: Layer, geometry: Any, properties: Any) -> Feature:
    editor_require(actor=actor, layer=layer)
    geom = _geometry_for_layer(layer, geometry)
    cleaned = properties_clean(layer=layer, properties=properties)
    feature = Feature.objects.create(layer=layer, geom=geom, properties=cleaned)
    _record_change(
        actor=actor,
        layer=layer,
        feature_id=feature.pk,
        action=FeatureChange.Action.CREATE,
        before=None,
        after=_snapshot(feature),
    )
    return feature


def _locked_feature(*, layer: Layer, feature_id: int) -> Feature:
    feature = Feature.objects.select_for_update().filter(layer=layer, pk=feature_id).first()
    if feature is None:
        raise Feature.DoesNotExist
    return feature


@transaction.atomic
def feature_update(
    *, actor: Actor, layer: Layer, feature_id: int, geometry: Any = None, properties: Any = None
) -> Feature:
    """Replace the geometry if given; merge the properties if given (a `None`
    value removes that property)."""
    editor_require(actor=actor, layer=layer)
    geom = _geometry_for_layer(layer, geometry) if geometry is not None else None
    changes = properties_clean(layer=layer, properties=properties, partial=True) if properties is not None else {}
    feature = _locked_feature(layer=layer, feature_id=feature_id)
    merged = {**feature.properties, **changes}
    merged = {k: v for k, v in merged.items() if v is not None}
    missing = [f["name"] for f in layer.schema if f.get("required") and f.get("name") and merged.get(f["name"]) is None]
    if missing:
        raise FeatureInvalid({name: [message("Thiếu giá trị bắt buộc.", "A value is required.")] for name in missing})
    before = _snapshot(feature)
    if geom is not None:
        feature.geom = geom
    feature.properties = merged
    feature.save(update_fields=["geom", "properties", "updated_at"])
    _record_change(
        actor=actor,
        layer=layer,
        feature_id=feature.pk,
        action=FeatureChange.Action.UPDATE,
        before=before,
        after=_snapshot(feature),
    )
    return feature


@transaction.atomic
def feature_delete(*, actor: Actor, layer: Layer, feature_id: int) -> None:
    editor_require(actor=actor, layer=layer)
    feature = _locked_feature(layer=layer, feature_id=feature_id)
    before = _snapshot(feature)
    feature.delete()
    _record_change(
        actor=actor, layer=layer, feature_id=feature_id, action=FeatureChange.Action.DELETE, before=before, after=None
    )
