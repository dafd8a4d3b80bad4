"""OGC API - Features under /ogc/. Paths take an optional trailing slash:
clients build them both ways."""

from django.urls import path, re_path

from . import ogc

COLLECTION = r"(?P<collection_id>[-\w]{1,60})"

urlpatterns = [
    path("", ogc.LandingPageView.as_view(), name="ogc-landing"),
    re_path(r"^conformance/?$", ogc.ConformanceView.as_view(), name="ogc-conformance"),
    re_path(r"^api/?$", ogc.OpenApiView.as_view(), name="ogc-openapi"),
    re_path(r"^collections/?$", ogc.CollectionsView.as_view(), name="ogc-collections"),
    re_path(rf"^collections/{COLLECTION}/?$", ogc.CollectionView.as_view(), name="ogc-collection"),
    re_path(rf"^collections/{COLLECTION}/schema/?$", ogc.CollectionSchemaView.as_view(), name="ogc-schema"),
    re_path(rf"^collections/{COLLECTION}/items/?$", ogc.ItemsView.as_view(), name="ogc-items"),
    re_path(
        rf"^collections/{COLLECTION}/items/(?P<feature_id>[^/]{{1,40}})/?$", ogc.ItemView.as_view(), name="ogc-item"
    ),
]
