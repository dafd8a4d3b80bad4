from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "gisportal.accounts"
    label = "accounts"
    verbose_name = gettext_lazy("Accounts, agencies and roles")

    def ready(self) -> None:
        from django.core import checks

        from gisportal.clientip import trusted_proxies_check

        from . import schema  # noqa: F401  (registers the OpenAPI token scheme)

        checks.register(trusted_proxies_check, checks.Tags.security)
