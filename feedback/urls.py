"""Feedback URLs: the API (mounted under /api/v1/) and the pages."""

from django.urls import path

from . import apis, views

api_urlpatterns = [
    path("feedback/", apis.FeedbackListApi.as_view(), name="api-feedback-list"),
    # Before the {public_id} routes: these words are not report ids.
    path("feedback/categories/", apis.CategoryListApi.as_view(), name="api-feedback-categories"),
    path("feedback/phone-code/", apis.PhoneCodeApi.as_view(), name="api-feedback-phone-code"),
    path("feedback/nearby/", apis.NearbyApi.as_view(), name="api-feedback-nearby"),
    path("feedback/places/", apis.PlaceSearchApi.as_view(), name="api-feedback-places"),
    path("feedback/map/", apis.FeedbackMapApi.as_view(), name="api-feedback-map"),
    path("feedback/public/<str:public_id>/", apis.FeedbackPublicApi.as_view(), name="api-feedback-public"),
    path("feedback/<str:public_id>/", apis.FeedbackDetailApi.as_view(), name="api-feedback-detail"),
    path("feedback/<str:public_id>/transitions/", apis.FeedbackTransitionApi.as_view(), name="api-feedback-transition"),
    path("feedback/<str:public_id>/follow/", apis.FeedbackFollowApi.as_view(), name="api-feedback-follow"),
    path("feedback/<str:public_id>/rating/", apis.FeedbackRatingApi.as_view(), name="api-feedback-rating"),
    path("feedback/<str:public_id>/photos/<int:photo_id>/", apis.FeedbackPhotoApi.as_view(), name="api-feedback-photo"),
    path("dossiers/<str:code>/rating/", apis.DossierRatingApi.as_view(), name="api-dossier-rating"),
]

page_urlpatterns = [
    path("dossiers/<str:code>/rating/", views.dossier_rating_page, name="dossier-rating-page"),
    path("feedback/", views.feedback_map_page, name="feedback-map"),
    path("feedback/new/", views.feedback_new_page, name="feedback-new"),
    path("feedback/worklist/", views.feedback_worklist_page, name="feedback-worklist"),
    path("feedback/<str:public_id>/", views.feedback_page, name="feedback-page"),
    path("feedback/<str:public_id>/manage/", views.feedback_manage_page, name="feedback-manage"),
    path(
        "feedback/<str:public_id>/photos/<int:photo_id>.jpg", views.feedback_photo_public, name="feedback-photo-public"
    ),
]
