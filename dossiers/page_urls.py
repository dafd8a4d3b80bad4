"""Web pages of dossiers (the API is in `urls.api_urlpatterns`)."""

from django.urls import path

from . import handling_views, store_pages, views

urlpatterns = [
    path("procedures/<str:code>/submit/", views.dossier_submit_page, name="dossier-submit"),
    # Before the {code} routes: "mine" is not a dossier code.
    path("dossiers/mine/", views.my_dossiers, name="my-dossiers"),
    # The document store and drafts (issue #15).
    path("me/documents/", store_pages.my_documents_page, name="my-documents"),
    path("me/documents/<int:document_id>/delete/", store_pages.my_document_delete, name="my-document-delete"),
    path("dossiers/drafts/<int:draft_id>/delete/", store_pages.dossier_draft_delete, name="dossier-draft-delete"),
    path("worklist/", views.worklist_page, name="worklist"),
    path("dossiers/<str:code>/", views.dossier_page, name="dossier-page"),
    path("dossiers/<str:code>/action/", views.dossier_action, name="dossier-action"),
    path("dossiers/<str:code>/apology/", views.dossier_apology, name="dossier-apology"),
    path("dossiers/<str:code>/assign/", handling_views.dossier_assign_page, name="dossier-assign"),
    path("dossiers/<str:code>/result/", handling_views.dossier_result_page, name="dossier-result"),
    path("dossiers/<str:code>/supplement/", handling_views.dossier_supplement_page, name="dossier-supplement"),
]
