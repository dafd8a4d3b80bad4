"""Postal routes: the API under /api/v1/postal/, the pages under /postal/."""

from django.urls import path

from . import apis, views

api_urlpatterns = [
    path("postal/shipments/", apis.ShipmentListApi.as_view(), name="api-postal-shipment-list"),
    path("postal/shipments/<str:order_code>/", apis.ShipmentDetailApi.as_view(), name="api-postal-shipment-detail"),
    path(
        "postal/shipments/<str:order_code>/actions/",
        apis.ShipmentActionApi.as_view(),
        name="api-postal-shipment-action",
    ),
    path(
        "postal/shipments/<str:order_code>/handover.pdf",
        apis.ShipmentSlipApi.as_view(),
        name="api-postal-shipment-slip",
    ),
    path("postal/callbacks/vnpost/", apis.CarrierCallbackApi.as_view(), name="api-postal-callback"),
    path("postal/counter-submissions/", apis.CounterSubmissionApi.as_view(), name="api-postal-counter-submission"),
]

page_urlpatterns = [
    path("postal/parcels/", views.parcels_page, name="postal-parcels"),
    path("postal/shipments/<str:order_code>/action/", views.shipment_action, name="postal-shipment-action"),
]
