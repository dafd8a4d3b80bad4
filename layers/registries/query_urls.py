"""Registry layers and spatial questions under /api/v1/layers/."""

from django.urls import path, re_path

from . import query_apis

LAYER = r"(?P<slug>[-\w]{1,60})"

urlpatterns = [
    path("layers/", query_apis.LayerListApi.as_view(), name="registry-layer-list"),
    re_path(rf"^layers/{LAYER}/features/$", query_apis.LayerFeaturesApi.as_view(), name="registry-layer-features"),
    re_path(
        rf"^layers/{LAYER}/features/intersecting/$",
        query_apis.LayerFeaturesIntersectingApi.as_view(),
        name="registry-layer-features-intersecting",
    ),
    re_path(
        rf"^layers/{LAYER}/features/(?P<feature_id>[^/]{{1,40}})/$",
        query_apis.LayerFeatureDetailApi.as_view(),
        name="registry-layer-feature",
    ),
    re_path(
        rf"^layers/{LAYER}/counts-by-commune/$",
        query_apis.LayerCountsByCommuneApi.as_view(),
        name="registry-layer-counts",
    ),
]
