from django.contrib import admin

from .models import Agency, ApiToken, Profile


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "sector")
    list_filter = ("kind", "sector")
    search_fields = ("code", "name")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "agency")
    list_filter = ("role", "agency")
    raw_id_fields = ("user",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Administrators see who holds API tokens and may revoke (delete) them;
    tokens are made by signing in, never here (the text is not stored)."""

    list_display = ("id", "user", "created", "expiry", "ip_address", "user_agent")
    list_filter = ("created",)
    search_fields = ("user__username",)
    fields = ("user", "created", "expiry", "ip_address", "user_agent")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
