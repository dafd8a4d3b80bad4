from django.contrib import admin

from gisportal.delivery_admin import DeliveryAdminMixin

from .models import Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(DeliveryAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "channel",
        "dossier",
        "action",
        "status",
        "attempts",
        "queued_at",
        "sent_at",
        "message",
    )
    list_filter = ("status", "channel", "action")
    search_fields = ("dossier__code", "recipient")
    list_select_related = ("dossier",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "inbox", "email", "zalo", "language", "updated_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
