"""How a notification leaves the portal, per channel: one `send(row)` each,
called by `gisportal.delivery` inside the transaction that holds the row and
marks it sent. Each returns the channel's id of what it sent."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from chatbot.outbound import zalo_deliver, zalo_prepare
from gisportal.delivery import DeliveryFailed

from .models import Channel, Notification


def notification_message_id(row: Notification) -> str:
    """The e-mail Message-ID of a notification: the same for every attempt,
    so a copy sent again after a worker died mid-send is recognised by mail
    clients and servers as the same message."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{row.pk}.{row.event_id}@{domain}>"


def email_send(row: Notification) -> str:
    message_id = notification_message_id(row)
    email = EmailMessage(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.recipient],
        headers={"Message-ID": message_id, "Content-Language": row.language, "Auto-Submitted": "auto-generated"},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryFailed(f"SMTP: the address was refused: {error.recipients}", permanent=True) from error
    except (smtplib.SMTPException, OSError) as error:
        # The server is down, slow (EMAIL_TIMEOUT) or answered a temporary error.
        raise DeliveryFailed(f"SMTP: {type(error).__name__}: {error}") from error
    return message_id


def zalo_send(row: Notification) -> str:
    return zalo_deliver(
        user_id=row.recipient, message={"text": row.body}, since=row.created_at, first_attempt=row.attempts <= 1
    )


CHANNEL_SENDERS: dict[str, Callable[[Notification], str]] = {Channel.EMAIL: email_send, Channel.ZALO: zalo_send}


def prepare_channel(channel: str) -> Callable[[Notification], None] | None:
    """Work done before the sending transaction: a valid Zalo access token."""
    return (lambda row: zalo_prepare()) if channel == Channel.ZALO else None
