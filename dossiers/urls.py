from django.urls import path

from . import apis, eform_apis, handling_apis, lookup, slip_apis, store_apis

api_urlpatterns = [
    path("dossiers/", apis.DossierListApi.as_view(), name="api-dossier-list"),
    # Before the {code} routes: "lookup" is not a dossier code.
    path("dossiers/lookup/", lookup.DossierLookupApi.as_view(), name="api-dossier-lookup"),
    # Drafts and the document store (issue #15); before the {code} routes too.
    path("dossiers/drafts/", store_apis.DraftListApi.as_view(), name="api-draft-list"),
    path("dossiers/drafts/<int:draft_id>/", store_apis.DraftDetailApi.as_view(), name="api-draft-detail"),
    path("dossiers/drafts/<int:draft_id>/submit/", store_apis.DraftSubmitApi.as_view(), name="api-draft-submit"),
    path("me/documents/", store_apis.MyDocumentListApi.as_view(), name="api-my-documents"),
    path("me/documents/<int:document_id>/", store_apis.MyDocumentDetailApi.as_view(), name="api-my-document"),
    path("me/documents/<int:document_id>/file/", store_apis.MyDocumentFileApi.as_view(), name="api-my-document-file"),
    path("dossiers/<str:code>/", apis.DossierDetailApi.as_view(), name="api-dossier-detail"),
    path("dossiers/<str:code>/transitions/", apis.DossierTransitionApi.as_view(), name="api-dossier-transition"),
    path("dossiers/<str:code>/apologies/", apis.DossierApologyApi.as_view(), name="api-dossier-apology"),
    path(
        "dossiers/<str:code>/attachments/<int:attachment_id>/",
        apis.DossierAttachmentApi.as_view(),
        name="api-dossier-attachment",
    ),
    path(
        "dossiers/<str:code>/forms/<slug:component>.pdf",
        eform_apis.DossierEFormPdfApi.as_view(),
        name="api-dossier-eform",
    ),
    path("dossiers/<str:code>/slips/<str:kind>.pdf", slip_apis.DossierSlipApi.as_view(), name="api-dossier-slip"),
    # After submission (issue #15): assignment to an officer, the officer's queue.
    path("dossiers/<str:code>/assign/", handling_apis.DossierAssignApi.as_view(), name="api-dossier-assign"),
    path("worklist/mine/", handling_apis.MyWorklistApi.as_view(), name="api-worklist-mine"),
    path("dossiers/<str:code>/result/", handling_apis.DossierResultApi.as_view(), name="api-dossier-result"),
    path(
        "dossiers/<str:code>/supplement/", handling_apis.DossierSupplementApi.as_view(), name="api-dossier-supplement"
    ),
]

page_urlpatterns = [
    path("dossiers/lookup/", lookup.lookup_page, name="dossier-lookup-page"),
]
