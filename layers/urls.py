from django.urls import path, re_path

from . import apis

urlpatterns = [
    path("admin-units/", apis.AdminUnitListApi.as_view(), name="admin-unit-list"),
    # Before the {code} route, which "match" would fit.
    path("admin-units/match/", apis.AdminUnitMatchApi.as_view(), name="admin-unit-match"),
    # Unit codes are short digit strings; anything else is a 404 before any query.
    re_path(r"^admin-units/(?P<code>[0-9A-Za-z]{1,10})/$", apis.AdminUnitDetailApi.as_view(), name="admin-unit-detail"),
    path("service-points/", apis.ServicePointListApi.as_view(), name="service-point-list"),
    path("places/search/", apis.PlaceSearchApi.as_view(), name="place-search"),
    # service-points/nearest/ is served by maps.nearest_apis (it reads procedures and load).
]
