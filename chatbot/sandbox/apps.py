from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ZaloSandboxConfig(AppConfig):
    """A local stand-in for Zalo's OA platform (its message API, OAuth and
    webhook sender), so the chat flow runs offline. It is "Zalo": it knows
    nothing of the portal but the webhook URL and the shared secrets."""

    name = "chatbot.sandbox"
    label = "zalo_sandbox"
    verbose_name = gettext_lazy("Zalo OA sandbox")
    default_auto_field = "django.db.models.BigAutoField"
