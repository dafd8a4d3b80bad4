from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MapsConfig(AppConfig):
    name = "maps"
    verbose_name = gettext_lazy("Maps and spatial analysis")
