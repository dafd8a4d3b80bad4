"""Every write of notifications: the rows a dossier event calls for, their
sending, a citizen's preferences, reading the inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.selectors import dossier_followers
from dossiers.events import DossierChanged
from dossiers.selectors import dossier_get_by_id
from gisportal.delivery import DeliveryJob, delivery_run
from gisportal.outbox import outbox_publish_on_commit

from .channels import CHANNEL_SENDERS, prepare_channel
from .messages import is_notified, notification_compose
from .models import Channel, Language, Notification, NotificationPreference
from .selectors import notification_preferences_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Recipient:
    channel: str
    address: str
    language: str
    user_id: int | None


def _recipients(dossier) -> list[_Recipient]:
    """Who hears of this dossier, on which channel: its applicant's account
    (inbox, e-mail) as their preferences say; the dossier's e-mail address
    when no account; the Zalo followers who linked it (proved by a code sent
    to the dossier's phone)."""
    applicant = dossier.applicant
    preference = notification_preferences_of(applicant)
    user_id = applicant.pk if applicant is not None else None
    recipients = []
    if applicant is not None and preference.inbox:
        recipients.append(_Recipient(Channel.INBOX, f"user:{applicant.pk}", preference.language, user_id))
    email = (dossier.applicant_email or (applicant.email if applicant is not None else "")).strip().lower()
    if email and preference.email:
        recipients.append(_Recipient(Channel.EMAIL, email, preference.language, user_id))
    if preference.zalo:
        for follower in dossier_followers(dossier_id=dossier.pk):
            language = follower.language or preference.language
            recipients.append(_Recipient(Channel.ZALO, follower.zalo_user_id, language, None))
    return recipients


def notifications_on_dossier_change(change: DossierChanged) -> list[Notification]:
    """The `dossiers.events` subscriber: inside the dossier's transaction,
    one row per channel the applicant chose for an event they should hear
    of. Messages to send are published once the change commits; a rolled
    back change sends nothing."""
    if not is_notified(change.action):
        return []
    dossier = dossier_get_by_id(dossier_id=change.dossier_id)
    written = []
    for recipient in _recipients(dossier):
        composed = notification_compose(change=change, dossier=dossier, language=recipient.language)
        row = Notification(
            event_id=change.event_id,
            dossier_id=dossier.pk,
            action=change.action,
            channel=recipient.channel,
            recipient=recipient.address,
            user_id=recipient.user_id,
            language=recipient.language,
            subject=composed.subject,
            body=composed.body if recipient.channel == Channel.EMAIL else composed.short,
            link=composed.link,
            created_at=change.at,
        )
        if recipient.channel == Channel.INBOX:
            # Delivered by being committed.
            row.status, row.sent_at, row.finished_at = DeliveryJob.Status.SENT, change.at, change.at
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            # The UNIQUE (event, channel, recipient) constraint: told already.
            logger.warning("notifications: event %s already has its %s row", change.event_id, recipient.channel)
            continue
        if row.status == DeliveryJob.Status.QUEUED:
            outbox_publish_on_commit(row)
        written.append(row)
    return written


def notification_send(*, notification_id: int) -> Notification | None:
    """The worker's task: send one queued e-mail or Zalo row (see
    gisportal.delivery for claims, retries and what a killed worker leaves)."""
    row = Notification.objects.filter(pk=notification_id).only("channel").first()
    if row is None or row.channel not in CHANNEL_SENDERS:
        return None
    return delivery_run(
        Notification, notification_id, send=CHANNEL_SENDERS[row.channel], prepare=prepare_channel(row.channel)
    )


def notification_preferences_update(
    *,
    user,
    inbox: bool | None = None,
    email: bool | None = None,
    zalo: bool | None = None,
    language: str | None = None,
) -> NotificationPreference:
    """Changes the fields given; the others keep their value."""
    if language is not None and language not in Language.values:
        raise ValueError(f"unknown language {language!r}")
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        for name, value in (("inbox", inbox), ("email", email), ("zalo", zalo), ("language", language)):
            if value is not None:
                setattr(preference, name, value)
        preference.save()
    return preference


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Marks `user`'s inbox notifications read (those of `ids`, or all);
    how many changed. Ids of other people's rows change nothing."""
    rows = Notification.objects.filter(user=user, channel=Channel.INBOX, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())
