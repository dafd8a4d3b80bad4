from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = gettext_lazy("Zalo Official Account")
    default_auto_field = "django.db.models.BigAutoField"
