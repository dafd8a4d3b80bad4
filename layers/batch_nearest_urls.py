"""Batch nearest runs under /api/v1/analytics/nearest-runs/."""

from django.urls import path

from . import batch_nearest_apis

urlpatterns = [
    path("analytics/nearest-runs/", batch_nearest_apis.NearestRunsApi.as_view(), name="api-analytics-nearest-runs"),
    path(
        "analytics/nearest-runs/<int:run_id>/",
        batch_nearest_apis.NearestRunApi.as_view(),
        name="api-analytics-nearest-run",
    ),
]
