"""What a citizen is told about their dossiers, and how they want to be told.

One `Notification` row per (dossier event, channel, recipient), written in
the transaction of the dossier change itself: the UNIQUE constraint is the
exactly-once guarantee, and a change that rolls back leaves no row. Rows of
the e-mail and Zalo channels are messages sent by the outbox after commit
(`gisportal.delivery`); an inbox row is delivered by being committed."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from gisportal.delivery import DeliveryJob
from gisportal.outbox import outbox_index


class Channel(models.TextChoices):
    INBOX = "inbox", "Hộp thư trên cổng / Portal inbox"
    EMAIL = "email", "Thư điện tử / E-mail"
    ZALO = "zalo", "Zalo"


class Language(models.TextChoices):
    VI = "vi", "Tiếng Việt"
    EN = "en", "English"


class NotificationPreference(models.Model):
    """A citizen's choice of channels and language. Without a row: every
    channel, in Vietnamese."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    inbox = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    zalo = models.BooleanField(default=True, help_text="To the Zalo followers who linked the dossier.")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.VI)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("notification preference")
        verbose_name_plural = gettext_lazy("notification preferences")

    def __str__(self) -> str:
        return f"{self.user} ({self.language})"


class Notification(DeliveryJob):
    outbox_task = "notifications.tasks.notification_send_task"

    event = models.ForeignKey("dossiers.DossierEvent", on_delete=models.CASCADE, related_name="+")
    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=30, help_text="The dossier event's action.")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    recipient = models.CharField(
        max_length=254, help_text="E-mail address, Zalo user id, or user:<id> for the portal inbox."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        help_text="The citizen account it is for, when there is one (the inbox's owner).",
    )
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.VI)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    link = models.CharField(max_length=500, help_text="The public lookup of the dossier.")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta(DeliveryJob.Meta):
        verbose_name = gettext_lazy("notification")
        verbose_name_plural = gettext_lazy("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "recipient"], name="notification_once_per_event"),
        ]
        indexes = [
            outbox_index("notification_outbox"),
            models.Index(fields=["user", "channel", "-created_at"], name="notification_inbox"),
            models.Index(
                fields=["user"], name="notification_unread", condition=Q(channel="inbox", read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient}: {self.subject}"
