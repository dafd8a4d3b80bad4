"""Dossier density routes: the API under /api/v1/, the tiles under /tiles/,
the planning page at /planning/density/."""

from django.urls import path

from . import density_apis

api_urlpatterns = [
    path("analytics/density/", density_apis.DensityApi.as_view(), name="api-analytics-density"),
]

tile_urlpatterns = [
    path(
        "analytics/density/<int:z>/<int:x>/<int:y>.pbf",
        density_apis.DensityTileApi.as_view(),
        name="tiles-analytics-density",
    ),
]

page_urlpatterns = [
    path("planning/density/", density_apis.density_page, name="planning-density"),
]
