from django.apps import AppConfig


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = "Thủ tục và hồ sơ / Procedures and dossiers"
    default_auto_field = "django.db.models.BigAutoField"
