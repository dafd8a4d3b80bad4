from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularJSONAPIView, SpectacularSwaggerView

from dossiers import catalogue_urls, stats_urls
from dossiers import urls as dossier_urls
from feedback import urls as feedback_urls
from gisportal.accounts.views import LimitedPasswordResetView
from maps import coverage_urls, density_urls, load_urls, nearest_urls, postal_urls
from notifications import urls as notification_urls
from payments import urls as payment_urls
from postal import urls as postal_app_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("gisportal.accounts.urls")),
    # Before Django's own: the same URL and name, with limits.
    path("accounts/password_reset/", LimitedPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    # JSON like every other answer of the API; YAML for those who want it.
    path("api/schema/", SpectacularJSONAPIView.as_view(), name="schema"),
    path("api/schema.yaml", SpectacularAPIView.as_view(), name="schema-yaml"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("gisportal.accounts.api_urls")),
    path("api/v1/", include("layers.urls")),
    path("api/v1/", include(nearest_urls.api_urlpatterns)),
    path("api/v1/", include("layers.registries.query_urls")),
    path("api/v1/", include("layers.registries.import_urls")),
    path("ogc/", include("layers.registries.ogc_urls")),
    path("tiles/", include("layers.registries.tile_urls")),
    path("api/v1/", include(payment_urls.api_urlpatterns)),
    path("", include(payment_urls.page_urlpatterns)),
    path("", include(payment_urls.sandbox_urlpatterns)),
    path("api/v1/", include(dossier_urls.api_urlpatterns)),
    path("", include(dossier_urls.page_urlpatterns)),
    path("", include("dossiers.page_urls")),
    path("api/v1/", include(catalogue_urls.api_urlpatterns)),
    path("", include(catalogue_urls.page_urlpatterns)),
    path("api/v1/", include(stats_urls.api_urlpatterns)),
    path("", include(stats_urls.page_urlpatterns)),
    path("api/v1/", include(coverage_urls.api_urlpatterns)),
    path("", include(coverage_urls.page_urlpatterns)),
    path("api/v1/", include(load_urls.api_urlpatterns)),
    path("api/v1/", include("layers.batch_nearest_urls")),
    path("", include(load_urls.page_urlpatterns)),
    path("api/v1/", include(density_urls.api_urlpatterns)),
    path("tiles/", include(density_urls.tile_urlpatterns)),
    path("", include(density_urls.page_urlpatterns)),
    path("api/v1/", include(feedback_urls.api_urlpatterns)),
    path("", include(feedback_urls.page_urlpatterns)),
    path("open311/v2/", include("feedback.open311_urls")),
    path("api/v1/", include(postal_app_urls.api_urlpatterns)),
    path("", include(postal_app_urls.page_urlpatterns)),
    path("sandbox/vnpost/", include("postal.sandbox.urls")),
    path("api/v1/", include(postal_urls.api_urlpatterns)),
    path("", include(postal_urls.page_urlpatterns)),
    path("", include("maps.urls")),
    path("api/v1/", include(notification_urls.api_urlpatterns)),
    path("", include(notification_urls.page_urlpatterns)),
    path("", include("chatbot.urls")),
]

if settings.ZALO_SANDBOX_ENABLED:
    # The local stand-in for Zalo's OA platform (chatbot/sandbox).
    urlpatterns.append(path("sandbox/zalo/", include("chatbot.sandbox.urls")))

# JSON error answers on the API paths (gisportal/error_pages.py).
handler400 = "gisportal.error_pages.bad_request"
handler403 = "gisportal.error_pages.permission_denied"
handler404 = "gisportal.error_pages.page_not_found"
handler500 = "gisportal.error_pages.server_error"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    # MEDIA_ROOT is not served as a folder: it holds import uploads and error
    # reports. Procedure forms have their own download view.
    urlpatterns += staticfiles_urlpatterns()
