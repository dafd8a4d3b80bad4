"""Administrators keep the categories and issue Open311 API keys; reports,
their steps and ratings are shown read-only (they change only through the
services, each change an event)."""

from django.contrib import admin, messages
from django.utils import timezone

from .models import ApiKey, Category, Feedback, FeedbackEvent, Rating


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "scope", "sector", "group", "order", "is_active")
    list_filter = ("scope", "sector", "is_active")
    list_editable = ("order", "is_active")
    search_fields = ("code", "name", "name_en", "keywords")


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = FeedbackEvent
    fields = ("at", "action", "from_status", "to_status", "actor_name", "actor_agency", "to_agency", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(_ReadOnly):
    list_display = ("public_id", "category", "status", "agency", "commune", "channel", "received_at", "due_at")
    list_filter = ("status", "channel", "category", "is_demo")
    search_fields = ("public_id",)
    date_hierarchy = "received_at"
    exclude = ("token",)
    inlines = [EventInline]


@admin.register(Rating)
class RatingAdmin(_ReadOnly):
    list_display = ("subject", "dossier_id", "feedback", "score", "day", "agency")
    list_filter = ("subject", "score")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Issuing a key shows it once, in the confirmation message: only its
    SHA-256 is kept. Revoking is the "revoke" action (the row stays, for the
    reports it posted)."""

    list_display = ("name", "prefix", "rate", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "contact_email")
    fields = ("name", "contact_email", "consent_terms_version", "rate", "prefix", "created_at", "last_used_at",
              "revoked_at")  # fmt: skip
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Imported here, not with the admin: Django loads every admin module at each
        # process start (a command, a worker), before any page is asked for.
        from .open311 import api_key_issue

        row, key = api_key_issue(
            name=obj.name,
            contact_email=obj.contact_email,
            consent_terms_version=obj.consent_terms_version,
            rate=obj.rate,
            created_by=request.user,
        )
        obj.pk, obj.prefix, obj.created_at = row.pk, row.prefix, row.created_at
        messages.warning(
            request,
            f"Khoá API (chỉ hiện một lần) / The API key, shown only this once: {key}",
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Thu hồi khoá / Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"{count} khoá đã thu hồi / keys revoked.")
