from django.urls import path

from . import apis

urlpatterns = [
    path("admin-units/", apis.AdminUnitListApi.as_view(), name="admin-unit-list"),
    path("admin-units/<str:code>/", apis.AdminUnitDetailApi.as_view(), name="admin-unit-detail"),
    path("service-points/", apis.ServicePointListApi.as_view(), name="service-point-list"),
    path("service-points/nearest/", apis.ServicePointNearestApi.as_view(), name="service-point-nearest"),
]
