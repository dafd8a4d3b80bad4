"""Mounted at /sandbox/zalo/ when ZALO_SANDBOX_ENABLED."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="zalo-sandbox-home"),
    path("settings/", views.settings_update, name="zalo-sandbox-settings"),
    path("tokens/", views.token_issue, name="zalo-sandbox-tokens"),
    path("followers/", views.follower_create, name="zalo-sandbox-follower-create"),
    path("followers/<str:user_id>/", views.follower_page, name="zalo-sandbox-follower"),
    path("followers/<str:user_id>/act/", views.follower_act, name="zalo-sandbox-act"),
    # Zalo's API, under the base URLs the portal's client is configured with.
    path("openapi/v3.0/oa/message/cs", views.message_cs, name="zalo-sandbox-message-cs"),
    path("openapi/v2.0/oa/conversation", views.conversation, name="zalo-sandbox-conversation"),
    path("oauth/v4/oa/access_token", views.oauth_access_token, name="zalo-sandbox-oauth"),
]
