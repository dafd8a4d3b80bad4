"""The nearest look-up under /api/v1/ (its URL and name predate the move from `layers`)."""

from django.urls import path

from . import nearest_apis

api_urlpatterns = [
    path("service-points/nearest/", nearest_apis.ServicePointNearestApi.as_view(), name="service-point-nearest"),
]
