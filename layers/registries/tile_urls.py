"""Vector tiles of registry layers, mounted under /tiles/."""

from django.urls import path

from . import tiles

urlpatterns = [
    path("<slug:slug>.json", tiles.TileJsonApi.as_view(), name="registry-tilejson"),
    path("<slug:slug>/<int:z>/<int:x>/<int:y>.pbf", tiles.TileApi.as_view(), name="registry-tile"),
]
