from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = "Zalo Official Account"
    default_auto_field = "django.db.models.BigAutoField"
