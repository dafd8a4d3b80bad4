from django.urls import path

from . import views

urlpatterns = [
    path("register/", views.register, name="register"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("tokens/revoke-all/", views.tokens_revoke_all, name="tokens-revoke-all"),
    path("sms-sandbox/", views.sms_sandbox, name="sms-sandbox"),
]
