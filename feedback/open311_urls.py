"""Open311 GeoReport v2 (mounted at /open311/v2/); see feedback/open311.py."""

from django.urls import re_path

from . import open311

FMT = r"\.(?P<fmt>[a-z]{1,10})$"

urlpatterns = [
    re_path(r"^discovery" + FMT, open311.DiscoveryView.as_view(), name="open311-discovery"),
    re_path(r"^services" + FMT, open311.ServiceListView.as_view(), name="open311-services"),
    re_path(
        r"^services/(?P<service_code>[^/]+)" + FMT, open311.ServiceDefinitionView.as_view(), name="open311-service"
    ),
    re_path(r"^requests" + FMT, open311.RequestListView.as_view(), name="open311-requests"),
    re_path(
        r"^requests/(?P<service_request_id>[^/]+)" + FMT, open311.RequestDetailView.as_view(), name="open311-request"
    ),
    re_path(r"^tokens/(?P<token>[^/]+)" + FMT, open311.TokenView.as_view(), name="open311-token"),
]
