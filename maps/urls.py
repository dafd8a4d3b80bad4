from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.map_page, name="map"),
    path("registries/upload/", views.registry_upload, name="registry-upload"),
    path("registries/upload/<slug:slug>/template.csv", views.registry_upload_template, name="registry-upload-template"),
]
