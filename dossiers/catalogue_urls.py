from django.urls import path

from . import catalogue_apis, catalogue_views

api_urlpatterns = [
    path("procedures/", catalogue_apis.ProcedureListApi.as_view(), name="api-procedure-list"),
    path("procedures/<str:code>/", catalogue_apis.ProcedureDetailApi.as_view(), name="api-procedure-detail"),
]

page_urlpatterns = [
    path("procedures/", catalogue_views.procedure_list, name="procedure-list"),
    path("procedures/<str:code>/", catalogue_views.procedure_detail, name="procedure-detail"),
]
