from django.contrib import admin

from .models import Agency, ApiToken, PhoneCode, Profile, SandboxSms, SmsMessage


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


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the portal writes itself: shown, never made or edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SmsMessage)
class SmsMessageAdmin(_ReadOnlyAdmin):
    """Every text message the portal sent or tries to send, with its outcome
    (failed ones say why). Codes are never shown: the body holds `{code}`."""

    list_display = ("id", "phone", "kind", "status", "attempts", "created_at", "sent_at", "backend")
    list_filter = ("status", "kind", "backend")
    search_fields = ("phone",)
    exclude = ("secret",)


@admin.register(SandboxSms)
class SandboxSmsAdmin(_ReadOnlyAdmin):
    """The local SMS sandbox's inbox: what each phone would have received."""

    list_display = ("phone", "text", "received_at")
    search_fields = ("phone",)


@admin.register(PhoneCode)
class PhoneCodeAdmin(_ReadOnlyAdmin):
    """Codes sent, their use and the wrong tries against them (no code is stored)."""

    list_display = ("phone", "purpose", "created_at", "expires_at", "attempts", "verified_at")
    list_filter = ("purpose",)
    search_fields = ("phone",)
    exclude = ("code_hash", "client_hash")
