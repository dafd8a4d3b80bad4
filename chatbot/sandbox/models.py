"""The sandbox OA's own records: what Zalo would know."""

from django.conf import settings
from django.db import models


class SandboxSettings(models.Model):
    """One row (pk 1): how the sandbox behaves, changed on its page."""

    reply_window_s = models.FloatField(help_text="The OA may answer a user this long after their last message.")
    token_ttl_s = models.FloatField(help_text="Lifetime of the access tokens it issues.")
    latency_s = models.FloatField(
        default=0, help_text="A slow network: a message is recorded, then the answer waits this long."
    )
    outage = models.BooleanField(default=False, help_text="The API answers 503 to everything.")

    class Meta:
        verbose_name_plural = "sandbox settings"

    def __str__(self) -> str:
        return f"window {self.reply_window_s:g} s, tokens {self.token_ttl_s:g} s"

    @classmethod
    def current(cls) -> "SandboxSettings":
        row, _ = cls.objects.get_or_create(
            pk=1,
            defaults={
                "reply_window_s": settings.ZALO_SANDBOX_REPLY_WINDOW_S,
                "token_ttl_s": settings.ZALO_SANDBOX_TOKEN_TTL_S,
            },
        )
        return row


class SandboxToken(models.Model):
    class Kind(models.TextChoices):
        ACCESS = "access", "Access token"
        REFRESH = "refresh", "Refresh token"

    kind = models.CharField(max_length=7, choices=Kind.choices)
    value = models.CharField(max_length=100, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, help_text="A refresh token works once.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} until {self.expires_at:%Y-%m-%d %H:%M}"


class SandboxFollower(models.Model):
    user_id = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=100)
    followed = models.BooleanField(default=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.user_id})"


class SandboxMessage(models.Model):
    class Direction(models.TextChoices):
        FROM_USER = "user", "Người dùng → OA / User → OA"
        FROM_OA = "oa", "OA → người dùng / OA → user"

    follower = models.ForeignKey(SandboxFollower, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=4, choices=Direction.choices)
    event_name = models.CharField(max_length=60, blank=True)
    kind = models.CharField(max_length=20, help_text="text, template, location, image, follow, unfollow")
    text = models.TextField(blank=True, help_text="What the conversation shows.")
    payload = models.JSONField()
    message_id = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField()
    webhook_status = models.PositiveSmallIntegerField(null=True, blank=True)
    webhook_answer = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["follower", "-at"], name="sandboxmessage_conversation")]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.message_id}"
