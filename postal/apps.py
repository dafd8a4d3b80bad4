from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class PostalConfig(AppConfig):
    name = "postal"
    verbose_name = gettext_lazy("Public postal service")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What the post adds to the dossier core, which never imports it:
        # shipments made from dossier events, the steps it records on the
        # timeline, and its blocks on the lookup and dossier pages.
        from dossiers.events import dossier_changes_subscribe
        from dossiers.extensions import (
            DemoHistoryPart,
            demo_history_part_register,
            dossier_section_register,
            dossier_step_labels_register,
            dossier_step_receivers_register,
            lookup_sections_register,
        )

        from . import demo, services, views

        dossier_changes_subscribe(services.shipments_on_dossier_change)
        dossier_step_labels_register(services.STEP_LABELS)
        dossier_step_receivers_register(services.STEP_RECEIVERS)
        dossier_section_register(views.SHIPMENTS_SECTION)
        lookup_sections_register(views.lookup_section)
        demo_history_part_register(
            DemoHistoryPart(
                name="postal",
                delete=demo.postal_demo_delete,
                generate=demo.postal_demo_generate,
                present=demo.postal_demo_present,
            )
        )
