from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = gettext_lazy("Spatial foundation")
