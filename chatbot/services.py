"""Every write of the Zalo channel: processing an accepted webhook event
(the conversation, linking dossiers, feedback by chat) and sending the OA's
replies."""

from __future__ import annotations

import copy
import logging

from django.db import transaction
from django.utils import timezone

from gisportal.delivery import delivery_run
from gisportal.outbox import outbox_claim, outbox_heartbeat, outbox_owns, outbox_publish_on_commit

from .conversation import conversation_handle
from .linking import link_facts
from .models import ChatUser, OutboundMessage, ZaloEvent
from .outbound import zalo_deliver, zalo_prepare

logger = logging.getLogger(__name__)


def _redacted(payload: dict) -> dict:
    """The event without the location it carried: locations are sensitive
    personal data, kept only until the worker has used them."""
    kept = copy.deepcopy(payload)
    message = kept.get("message")
    if isinstance(message, dict):
        for attachment in message.get("attachments") or []:
            body = attachment.get("payload") if isinstance(attachment, dict) else None
            if isinstance(body, dict) and "coordinates" in body:
                body["coordinates"] = "removed after use"
    return kept


def zalo_event_process(*, event_id: int) -> ZaloEvent | None:
    """The worker's task for one accepted event: the conversation's answer,
    the follower's state, the replies to send and the event marked done, in
    one transaction (fenced by the outbox claim, so a run given up on writes
    nothing). None when there was nothing to run."""
    event = outbox_claim(ZaloEvent, event_id)
    if event is None:
        return None
    with outbox_heartbeat(event):
        # Outside the transaction: a phone code's check counts a wrong try,
        # which must stay even if the rest rolls back (chatbot.linking).
        facts = link_facts(event, ChatUser.objects.filter(zalo_user_id=event.user_id).first())
        with transaction.atomic():
            return _process(event, facts)


def _process(event: ZaloEvent, facts: dict) -> ZaloEvent | None:
    if not outbox_owns(event):
        return None
    if not event.user_id:
        ZaloEvent.objects.filter(pk=event.pk).update(
            status=ZaloEvent.Status.DONE, message="no follower in the event", finished_at=timezone.now()
        )
        return ZaloEvent.objects.get(pk=event.pk)
    chat_user, _ = ChatUser.objects.select_for_update().get_or_create(zalo_user_id=event.user_id)
    replies = conversation_handle(event, chat_user, facts)
    chat_user.save()
    for position, payload in enumerate(replies):
        reply = OutboundMessage.objects.create(chat_user=chat_user, event=event, position=position, payload=payload)
        outbox_publish_on_commit(reply)
    ZaloEvent.objects.filter(pk=event.pk).update(
        status=ZaloEvent.Status.DONE,
        payload=_redacted(event.payload),
        message=f"{len(replies)} replies",
        finished_at=timezone.now(),
        heartbeat_at=None,
    )
    return ZaloEvent.objects.get(pk=event.pk)


def _outbound_send(row: OutboundMessage) -> str:
    return zalo_deliver(
        user_id=row.chat_user.zalo_user_id, message=row.payload, since=row.created_at, first_attempt=row.attempts <= 1
    )


def outbound_send(*, message_id: int) -> OutboundMessage | None:
    """The worker's task for one reply (retries and check-before-resend:
    gisportal.delivery and chatbot.outbound)."""
    return delivery_run(OutboundMessage, message_id, send=_outbound_send, prepare=lambda row: zalo_prepare())
