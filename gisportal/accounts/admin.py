from django.contrib import admin

from .models import Agency, Profile


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
