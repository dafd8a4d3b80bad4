from django.contrib.gis import admin

from .models import AdministrativeUnit, Feature, FeatureChange, ImportJob, Layer, ServicePoint, UnitSuccession
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


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    """Layers are described here; their features change only through imports,
    the API and the map, which record every change.

    Deleting a layer deletes its features, import jobs and change history
    with it (`layer_delete`). Django's own confirmation would list every
    feature (100,000 parcels) and refuse, since the history is read-only
    here: it shows their counts instead, and the deletion is recorded in
    LogEntry and the audit log."""

    list_display = ("slug", "title", "owner", "geometry_type", "visibility", "feature_count", "version", "updated_at")
    list_filter = ("visibility", "geometry_type", "owner")
    search_fields = ("slug", "title")
    filter_horizontal = ("editors",)
    readonly_fields = ("version", "feature_count", "extent", "distinct_fields", "created_at", "updated_at")

    def get_deleted_objects(self, objs, request):
        # Imported here, not with the admin: Django loads every admin module at each
        # process start (a command, a worker), before any page is asked for.
        from .registries.removal import layer_removal_summary

        summaries = [layer_removal_summary(layer) for layer in objs]
        listed = []
        for s in summaries:
            listed += [
                f"{Layer._meta.verbose_name}: {s.title} ({s.slug})",
                [
                    f"{s.features:,} {Feature._meta.verbose_name_plural}",
                    f"{s.import_jobs:,} {ImportJob._meta.verbose_name_plural} "
                    "(tệp tải lên và báo cáo lỗi / uploads and error reports)",
                    f"{s.changes:,} {FeatureChange._meta.verbose_name_plural}",
                ],
            ]
        counts = {
            Layer._meta.verbose_name_plural: len(summaries),
            Feature._meta.verbose_name_plural: sum(s.features for s in summaries),
            ImportJob._meta.verbose_name_plural: sum(s.import_jobs for s in summaries),
            FeatureChange._meta.verbose_name_plural: sum(s.changes for s in summaries),
        }
        # Whoever may delete the layer may delete what belongs to it; nothing protects a layer.
        return listed, counts, set(), []

    def delete_model(self, request, obj):
        from .registries.removal import layer_delete

        layer_delete(layer=obj, acting_user=request.user)

    def delete_queryset(self, request, queryset):
        from .registries.removal import layer_delete

        for layer in queryset:
            layer_delete(layer=layer, acting_user=request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FeatureChange)
class FeatureChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "layer", "action", "feature_id", "user", "note")
    list_filter = ("action", "layer")
    date_hierarchy = "at"


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "layer", "source_name", "status", "rows_imported", "rows_rejected", "user")
    list_filter = ("status", "layer")
