"""Input and output shapes of the registry feature edits
(POST /api/v1/layers/{slug}/features/, PATCH /api/v1/layers/{slug}/features/{id}/),
with djangorestframework-gis: its GeometryField parses the GeoJSON geometry,
its GeoFeatureModelSerializer writes the Feature document. The body and
answer are as before: `{"type": "Feature", "geometry": {...}, "properties": {...}}`
in, the same with `id` out. What a geometry must be (valid, bounded, inside
the province) stays in the service (editing.geometry_checked), the one door
for every edit; messages are bilingual and name the field."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gisportal.api import message

from ..models import Feature
from . import editing


class GeoJSONGeometryField(GeometryField):
    """A GeoJSON geometry object, parsed by drf-gis into a GEOSGeometry
    (EPSG:4326); `allowed_types` limits its type. Refusals are bilingual."""

    def __init__(self, *, allowed_types: frozenset[str] | None = None, **kwargs: Any):
        self.allowed_types = allowed_types
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any):
        try:
            editing.geojson_shape_check(value, field=self.field_name, allowed_types=self.allowed_types)
        except editing.FeatureInvalid as exc:
            raise serializers.ValidationError(exc.errors[self.field_name]) from exc
        try:
            geom = super().to_internal_value(value)
        except DjangoValidationError as exc:  # drf-gis's own words are English only
            raise serializers.ValidationError([message(*editing.UNREADABLE)]) from exc
        if geom.srid is None:
            geom.srid = 4326
        return geom


class FeatureInputSerializer(serializers.Serializer):
    """A GeoJSON Feature: `geometry` of the layer's types, `properties` an
    object checked against the layer's schema by the service."""

    type = serializers.CharField(required=False, default="Feature")
    properties = serializers.JSONField(required=False, allow_null=True, default=None)

    def __init__(self, *args: Any, layer, partial: bool = False, **kwargs: Any):
        super().__init__(*args, partial=partial, **kwargs)
        self.fields["geometry"] = GeoJSONGeometryField(
            allowed_types=editing.layer_geometry_types(layer),
            required=not partial,
            allow_null=partial,
        )

    def validate_type(self, value: str) -> str:
        if value != "Feature":
            raise serializers.ValidationError(
                [message("Phải là một GeoJSON Feature.", "Must be a GeoJSON Feature object.")]
            )
        return value


class FeatureDocumentSerializer(GeoFeatureModelSerializer):
    """The stored feature as a GeoJSON Feature: `id`, `geometry`, and the
    stored `properties` object as it is."""

    class Meta:
        model = Feature
        geo_field = "geom"
        fields = ("id",)

    def get_properties(self, instance: Feature, fields) -> dict:
        return instance.properties
