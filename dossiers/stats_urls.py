"""Indicator routes: the API under /api/v1/, the dashboard page at /stats/."""

from django.urls import path

from . import stats_apis, stats_views

api_urlpatterns = [
    path("stats/dossiers/", stats_apis.DossierIndicatorsApi.as_view(), name="api-stats-dossiers"),
]

page_urlpatterns = [
    path("stats/", stats_views.stats_dashboard, name="stats-dashboard"),
]
