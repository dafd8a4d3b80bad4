"""Postal map routes: the APIs under /api/v1/analytics/, the page at /planning/postal/."""

from django.urls import path

from . import postal_apis

api_urlpatterns = [
    path("analytics/shipments/", postal_apis.ShipmentsInProgressApi.as_view(), name="api-analytics-shipments"),
    path("analytics/deliveries/", postal_apis.DeliveriesByCommuneApi.as_view(), name="api-analytics-deliveries"),
]

page_urlpatterns = [
    path("planning/postal/", postal_apis.postal_page, name="planning-postal"),
]
