from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token/", apis.TokenCreateApi.as_view(), name="api-token"),
    path("auth/tokens/", apis.TokenListApi.as_view(), name="api-tokens"),
    path("auth/tokens/<int:token_id>/", apis.TokenDetailApi.as_view(), name="api-token-detail"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="api-logout"),
    path("auth/logoutall/", apis.LogoutAllApi.as_view(), name="api-logout-all"),
]
