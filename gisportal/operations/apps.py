from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the portal: backup and restore, and the checks that follow a fault."""

    name = "gisportal.operations"
    label = "operations"
    verbose_name = "Operations"
