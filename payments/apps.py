from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = gettext_lazy("Fees and payments")

    def ready(self) -> None:
        # The dossier core announces its changes; it never imports payments.
        from dossiers.events import dossier_changes_subscribe
        from dossiers.extensions import (
            DemoHistoryPart,
            demo_history_part_register,
            dossier_section_register,
            dossier_step_labels_register,
        )

        from . import demo, sections, services, states

        dossier_changes_subscribe(services.on_dossier_changed)
        dossier_section_register(sections.PAYMENT_SECTION)
        dossier_step_labels_register(states.STEP_LABELS)
        demo_history_part_register(
            DemoHistoryPart(
                name="payments",
                delete=demo.payments_demo_delete,
                generate=demo.payments_demo_generate,
                present=demo.payments_demo_present,
            )
        )
