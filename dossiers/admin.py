from django.contrib import admin
from django.urls import path

from .catalogue_views import procedure_export_admin_view, procedure_import_admin_view
from .models import Apology, CalendarException, Dossier, DossierEvent, Procedure, ProcedureForm, Sector


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en")
    search_fields = ("code", "name")


class ProcedureFormInline(admin.TabularInline):
    model = ProcedureForm
    extra = 0


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "sector",
        "agency",
        "level",
        "online_level",
        "processing_days",
        "fee_vnd",
        "is_active",
    )
    list_filter = ("sector", "level", "online_level", "is_active", "is_demo_values")
    search_fields = ("code", "name")
    inlines = [ProcedureFormInline]

    def get_urls(self):
        # "Nhập CSV / Import CSV" on the change list (needs add and change permissions).
        importer = self.admin_site.admin_view(procedure_import_admin_view)
        exporter = self.admin_site.admin_view(procedure_export_admin_view)
        return [
            path("import-csv/", importer, name="dossiers_procedure_import"),
            path("export-csv/", exporter, name="dossiers_procedure_export"),
            *super().get_urls(),
        ]


@admin.register(CalendarException)
class CalendarExceptionAdmin(admin.ModelAdmin):
    """Moved days off and make-up working Saturdays, announced every year."""

    list_display = ("date", "kind", "note")
    list_filter = ("kind",)
    date_hierarchy = "date"


class DossierEventInline(admin.TabularInline):
    model = DossierEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_status", "to_status", "actor_name", "actor_role", "to_agency", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Dossier)
class DossierAdmin(admin.ModelAdmin):
    """Read-only: dossiers change only through the workflow services."""

    list_display = ("code", "procedure", "status", "channel", "receiving_point", "received_at", "due_at", "timeliness")
    list_filter = ("status", "channel", "timeliness")
    search_fields = ("code",)
    exclude = ("applicant_id_number",)
    inlines = [DossierEventInline]
    list_select_related = ("procedure", "receiving_point")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Apology)
class ApologyAdmin(admin.ModelAdmin):
    list_display = ("dossier", "new_due_at", "created_by", "created_at")

    def has_change_permission(self, request, obj=None):
        return False
