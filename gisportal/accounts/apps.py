from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "gisportal.accounts"
    label = "accounts"
    verbose_name = gettext_lazy("Accounts, agencies and roles")

    def ready(self) -> None:
        from django.core import checks

        from gisportal.clientip import trusted_proxies_check
        from gisportal.dbsession import connect_session_warm

        from . import schema  # noqa: F401  (registers the OpenAPI token scheme)

        checks.register(trusted_proxies_check, checks.Tags.security)
        # Project-wide, like the check above: every database session of the portal.
        connect_session_warm()
