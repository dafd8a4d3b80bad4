from django.urls import path

from . import apis, lookup, slip_apis

api_urlpatterns = [
    path("dossiers/", apis.DossierListApi.as_view(), name="api-dossier-list"),
    # Before the {code} routes: "lookup" is not a dossier code.
    path("dossiers/lookup/", lookup.DossierLookupApi.as_view(), name="api-dossier-lookup"),
    path("dossiers/<str:code>/", apis.DossierDetailApi.as_view(), name="api-dossier-detail"),
    path("dossiers/<str:code>/transitions/", apis.DossierTransitionApi.as_view(), name="api-dossier-transition"),
    path("dossiers/<str:code>/apologies/", apis.DossierApologyApi.as_view(), name="api-dossier-apology"),
    path(
        "dossiers/<str:code>/attachments/<int:attachment_id>/",
        apis.DossierAttachmentApi.as_view(),
        name="api-dossier-attachment",
    ),
    path("dossiers/<str:code>/slips/<str:kind>.pdf", slip_apis.DossierSlipApi.as_view(), name="api-dossier-slip"),
]

page_urlpatterns = [
    path("dossiers/lookup/", lookup.lookup_page, name="dossier-lookup-page"),
]
