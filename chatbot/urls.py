from django.urls import path

from . import views

urlpatterns = [
    path("zalo/webhook/", views.zalo_webhook, name="zalo-webhook"),
]
