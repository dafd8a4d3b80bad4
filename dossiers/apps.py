from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = gettext_lazy("Procedures and dossiers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The spatial foundation knows no dossier: the batch nearest reads them as a point source.
        from layers.batch_nearest import PointSource, point_source_register

        point_source_register(PointSource(name="dossiers", table="dossiers_dossier", geom_column="location"))
