"""Load and indicator routes: the APIs under /api/v1/, the pages at /planning/."""

from django.urls import path

from . import load_apis

api_urlpatterns = [
    path("analytics/load/", load_apis.ServicePointLoadApi.as_view(), name="api-analytics-load"),
    path("analytics/accessibility/", load_apis.AccessibilityApi.as_view(), name="api-analytics-accessibility"),
    path("analytics/indicators/", load_apis.Indicators766Api.as_view(), name="api-analytics-indicators"),
]

page_urlpatterns = [
    path("planning/load/", load_apis.load_page, name="planning-load"),
    path("planning/indicators/", load_apis.indicators_page, name="planning-indicators"),
]
