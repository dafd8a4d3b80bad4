from django.contrib import admin

from gisportal.delivery_admin import DeliveryAdminMixin

from .models import ChatLink, ChatUser, OutboundMessage, ZaloEvent, ZaloToken


@admin.register(ZaloEvent)
class ZaloEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event_name", "user_id", "status", "attempts", "message")
    list_filter = ("status", "event_name")
    search_fields = ("user_id", "event_key")
    readonly_fields = [f.name for f in ZaloEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(DeliveryAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "chat_user", "status", "attempts", "queued_at", "sent_at", "message")
    search_fields = ("chat_user__zalo_user_id",)
    list_select_related = ("chat_user",)
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]


@admin.register(ChatUser)
class ChatUserAdmin(admin.ModelAdmin):
    list_display = ("zalo_user_id", "followed", "language", "last_message_at", "created_at")
    search_fields = ("zalo_user_id",)
    readonly_fields = ("zalo_user_id", "state", "last_message_at", "created_at")


@admin.register(ChatLink)
class ChatLinkAdmin(admin.ModelAdmin):
    list_display = ("chat_user", "dossier", "linked_at")
    search_fields = ("chat_user__zalo_user_id", "dossier__code")
    raw_id_fields = ("chat_user", "dossier")


@admin.register(ZaloToken)
class ZaloTokenAdmin(admin.ModelAdmin):
    """Tokens are secrets: only when they expire and were refreshed is shown."""

    list_display = ("oa_id", "expires_at", "refreshed_at")
    fields = ("oa_id", "expires_at", "refreshed_at")
    readonly_fields = ("oa_id", "expires_at", "refreshed_at")

    def has_add_permission(self, request) -> bool:
        return False
