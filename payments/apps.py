from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Phí, lệ phí / Fees and payments"

    def ready(self) -> None:
        # The dossier core announces its changes; it never imports payments.
        from dossiers.events import dossier_changes_subscribe
        from dossiers.extensions import dossier_section_register

        from . import sections, services

        dossier_changes_subscribe(services.on_dossier_changed)
        dossier_section_register(sections.PAYMENT_SECTION)
