from django.apps import AppConfig


class VnpostSandboxConfig(AppConfig):
    """The sandbox carrier: a stand-in for Vietnam Post's partner API served
    by the portal itself, with its own tables, account and schedule."""

    name = "postal.sandbox"
    label = "vnpost_sandbox"
    verbose_name = "Bưu điện thử nghiệm / Sandbox carrier (Vietnam Post protocol)"
    default_auto_field = "django.db.models.BigAutoField"
