from django.apps import AppConfig


class PostalConfig(AppConfig):
    name = "postal"
    verbose_name = "Bưu chính công ích / Public postal service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What the post adds to the dossier core, which never imports it:
        # shipments made from dossier events, the steps it records on the
        # timeline, and its blocks on the lookup and dossier pages.
        from dossiers.events import dossier_changes_subscribe
        from dossiers.extensions import (
            demo_loaders_register,
            lookup_sections_register,
            page_sections_register,
            recorded_steps_register,
        )

        from . import demo, services, views

        dossier_changes_subscribe(services.shipments_on_dossier_change)
        recorded_steps_register(*services.RECORDED_STEPS)
        lookup_sections_register(views.lookup_section)
        page_sections_register(views.dossier_page_section)
        demo_loaders_register(demo.postal_demo_load)
