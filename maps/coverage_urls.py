"""Coverage routes: the APIs under /api/v1/, the planning page at /."""

from django.urls import path

from . import coverage_apis

api_urlpatterns = [
    path("analytics/coverage/", coverage_apis.CoverageApi.as_view(), name="api-analytics-coverage"),
    path(
        "analytics/coverage/suggest/",
        coverage_apis.CoverageSuggestApi.as_view(),
        name="api-analytics-coverage-suggest",
    ),
    path("analytics/catchments/", coverage_apis.CatchmentsApi.as_view(), name="api-analytics-catchments"),
]

page_urlpatterns = [
    path("planning/coverage/", coverage_apis.coverage_page, name="planning-coverage"),
]
