from django.apps import AppConfig


class ZaloSandboxConfig(AppConfig):
    """A local stand-in for Zalo's OA platform (its message API, OAuth and
    webhook sender), so the chat flow runs offline. It is "Zalo": it knows
    nothing of the portal but the webhook URL and the shared secrets."""

    name = "chatbot.sandbox"
    label = "zalo_sandbox"
    verbose_name = "Zalo OA sandbox"
    default_auto_field = "django.db.models.BigAutoField"
