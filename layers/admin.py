from django.contrib.gis import admin

from .models import AdministrativeUnit, ServicePoint, UnitSuccession
from .widgets import OfflineOSMWidget


class SuccessionInline(admin.TabularInline):
    model = UnitSuccession
    fk_name = "predecessor"
    extra = 0
    raw_id_fields = ("successor",)


@admin.register(AdministrativeUnit)
class AdministrativeUnitAdmin(admin.GISModelAdmin):
    gis_widget = OfflineOSMWidget
    list_display = ("code", "full_name", "level", "era", "valid_from", "valid_to", "population")
    list_filter = ("era", "level")
    search_fields = ("code", "name", "full_name", "name_en")
    raw_id_fields = ("parent",)
    exclude = ("geom_simplified",)
    inlines = [SuccessionInline]


@admin.register(ServicePoint)
class ServicePointAdmin(admin.GISModelAdmin):
    gis_widget = OfflineOSMWidget
    list_display = ("code", "name", "kind", "admin_unit", "counters", "is_demo", "is_active")
    list_filter = ("kind", "is_demo", "is_active")
    search_fields = ("code", "name", "address")
    raw_id_fields = ("admin_unit",)
    gis_widget_kwargs = {"attrs": {"default_lon": 106.07, "default_lat": 21.18, "default_zoom": 10}}
