"""Registry import jobs and exports under /api/v1/."""

from django.urls import path, re_path

from . import import_apis

urlpatterns = [
    re_path(r"^layers/(?P<slug>[-\w]{1,60})/imports/$", import_apis.LayerImportApi.as_view(), name="layer-import"),
    path("imports/<int:job_id>/", import_apis.ImportJobDetailApi.as_view(), name="import-job-detail"),
    path("imports/<int:job_id>/errors.csv", import_apis.ImportJobErrorsApi.as_view(), name="import-job-errors"),
    re_path(r"^layers/(?P<slug>[-\w]{1,60})/export/$", import_apis.LayerExportApi.as_view(), name="layer-export"),
]
