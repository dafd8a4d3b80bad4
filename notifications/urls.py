from django.urls import path

from . import apis, views

api_urlpatterns = [
    path("notifications/", apis.InboxApi.as_view(), name="api-notifications"),
    path("notifications/read/", apis.InboxReadApi.as_view(), name="api-notifications-read"),
    path("notifications/preferences/", apis.PreferencesApi.as_view(), name="api-notification-preferences"),
]

page_urlpatterns = [
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox-read"),
    path("inbox/settings/", views.settings_page, name="notification-settings"),
]
