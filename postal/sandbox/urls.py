"""The sandbox carrier at /sandbox/vnpost/: the partner API (the same
protocol as postal/vnpost.py), the operator's API and page."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.operator_page, name="vnpost-sandbox"),
    path("api/v1/CreateOrder", views.create_order, name="vnpost-sandbox-create-order"),
    path("api/v1/GetOrder", views.get_order, name="vnpost-sandbox-get-order"),
    path("api/v1/MoveOrder", views.move_order, name="vnpost-sandbox-move-order"),
]
