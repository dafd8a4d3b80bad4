"""Web pages of dossiers (the API is in `urls.api_urlpatterns`)."""

from django.urls import path

from . import views

urlpatterns = [
    path("procedures/<str:code>/submit/", views.dossier_submit_page, name="dossier-submit"),
    # Before the {code} routes: "mine" is not a dossier code.
    path("dossiers/mine/", views.my_dossiers, name="my-dossiers"),
    path("worklist/", views.worklist_page, name="worklist"),
    path("dossiers/<str:code>/", views.dossier_page, name="dossier-page"),
    path("dossiers/<str:code>/action/", views.dossier_action, name="dossier-action"),
    path("dossiers/<str:code>/apology/", views.dossier_apology, name="dossier-apology"),
]
