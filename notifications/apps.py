from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = gettext_lazy("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dossiers.events import dossier_changes_subscribe

        from .services import notifications_on_dossier_change

        # Runs inside the transaction of every dossier event: the rows it
        # writes commit or roll back with the change.
        dossier_changes_subscribe(notifications_on_dossier_change)
