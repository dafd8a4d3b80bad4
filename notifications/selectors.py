"""Reads of notifications: a citizen sees their own inbox only."""

from django.db.models import QuerySet

from .models import Channel, Notification, NotificationPreference


def notification_preferences_of(user) -> NotificationPreference:
    """`user`'s preferences, or the defaults (every channel, Vietnamese) for
    a user who never changed them or for no account at all (unsaved)."""
    if user is None or not user.is_authenticated:
        return NotificationPreference()
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


def inbox_of(user) -> QuerySet[Notification]:
    """The portal-inbox notifications of `user`, newest first; none for an
    anonymous caller."""
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user, channel=Channel.INBOX).order_by("-created_at", "-id")


def inbox_unread_count(user) -> int:
    return inbox_of(user).filter(read_at__isnull=True).count()
