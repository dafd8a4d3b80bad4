from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy

from gisportal.admin_language import OneLanguageChoicesMixin, choice_column

from .models import (
    Apology,
    CalendarException,
    Dossier,
    DossierEvent,
    Procedure,
    ProcedureComponent,
    ProcedureForm,
    Sector,
)


@admin.register(Sector)
class SectorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en")
    search_fields = ("code", "name")


class ProcedureFormInline(admin.TabularInline):
    model = ProcedureForm
    extra = 0


class ProcedureComponentInline(admin.StackedInline):
    """Dossier components edited with the procedure; `clean()` refuses a
    form schema that is not valid JSON Schema 2020-12."""

    model = ProcedureComponent
    extra = 0
    fields = (
        ("code", "name"),
        ("required", "group", "order"),
        ("originals", "copies"),
        "accepted_types",
        "form_schema",
    )


@admin.register(Procedure)
class ProcedureAdmin(OneLanguageChoicesMixin, admin.ModelAdmin):
    level_shown = choice_column("level", gettext_lazy("administrative level"))
    online_level_shown = choice_column("online_level", gettext_lazy("online level"))
    list_display = (
        "code",
        "name",
        "sector",
        "agency",
        "level_shown",
        "online_level_shown",
        "processing_days",
        "fee_vnd",
        "is_active",
    )
    list_filter = ("sector", "level", "online_level", "is_active", "is_demo_values")
    search_fields = ("code", "name")
    inlines = [ProcedureComponentInline, ProcedureFormInline]

    def get_urls(self):
        # "Nhập CSV / Import CSV" on the change list (needs add and change permissions).
        # Imported here, not with the admin: Django loads every admin module at each
        # process start (a command, a worker), before the URLs are read.
        from .catalogue_views import procedure_export_admin_view, procedure_import_admin_view
        from .component_admin import procedure_components_import_admin_view
        from .process_admin import procedure_process_import_admin_view

        importer = self.admin_site.admin_view(procedure_import_admin_view)
        exporter = self.admin_site.admin_view(procedure_export_admin_view)
        components = self.admin_site.admin_view(procedure_components_import_admin_view)
        process = self.admin_site.admin_view(procedure_process_import_admin_view)
        return [
            path("import-process/", process, name="dossiers_procedure_import_process"),
            path("import-csv/", importer, name="dossiers_procedure_import"),
            path("import-components/", components, name="dossiers_procedure_import_components"),
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
