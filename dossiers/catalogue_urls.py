from django.conf import settings
from django.urls import path

from . import catalogue_apis, catalogue_views
from .models import ProcedureForm

api_urlpatterns = [
    path("procedures/", catalogue_apis.ProcedureListApi.as_view(), name="api-procedure-list"),
    path("procedures/<str:code>/", catalogue_apis.ProcedureDetailApi.as_view(), name="api-procedure-detail"),
    path("procedures/<str:code>/desks/", catalogue_apis.ProcedureDesksApi.as_view(), name="api-procedure-desks"),
]

page_urlpatterns = [
    path("procedures/", catalogue_views.procedure_list, name="procedure-list"),
    path("procedures/<str:code>/", catalogue_views.procedure_detail, name="procedure-detail"),
]
if settings.MEDIA_URL.startswith("/"):
    # Where FileField.url points; served here in every setting, as downloads.
    page_urlpatterns.append(
        path(
            f"{settings.MEDIA_URL.strip('/')}/{ProcedureForm.UPLOAD_TO}<str:name>",
            catalogue_views.procedure_form_file,
            name="procedure-form-file",
        )
    )
