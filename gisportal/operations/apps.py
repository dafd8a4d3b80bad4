from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the portal: backup and restore, and the checks that follow a fault."""

    name = "gisportal.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from gisportal.dbsession import connect_session_warm

        connect_session_warm()  # every database session of the portal, web, Celery and commands alike
