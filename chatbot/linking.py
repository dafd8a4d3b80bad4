"""Linking a dossier to a Zalo follower: "liên kết <mã hồ sơ>" sends a
six-digit code by SMS to the phone on the dossier (`gisportal.accounts.phone`);
the follower who sends it back is linked, and from then on gets the dossier's
status changes on Zalo (the Zalo channel of `notifications`). "bỏ theo dõi
<mã>" unlinks.

Checking a code counts a wrong try in the phone-code table, which must hold
even if the rest of the event's work rolls back: the worker checks the code
before its transaction and keeps the answer on the event
(`ZaloEvent.facts`), so a reprocessed event reuses it instead of trying the
code again (`link_facts`)."""

from __future__ import annotations

import re

from django.utils import timezone

from dossiers.selectors import dossier_get_by_id, dossier_public_lookup
from gisportal.accounts.phone import (
    PhoneCodeThrottled,
    PhoneInvalid,
    phone_code_send,
    phone_code_verify,
    phone_mask,
    phone_normalize,
)

from .models import ChatLink, ChatUser, ZaloEvent

PURPOSE = "zalo_link"
LINK_STEP = "link_code"
MAX_WRONG = 3
_SIX_DIGITS = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def event_text(event: ZaloEvent) -> str:
    message = event.payload.get("message")
    return str(message.get("text") or "") if isinstance(message, dict) else ""


def code_in(text: str) -> str | None:
    """A six-digit code in a message that is not a dossier code."""
    from .conversation import find_code

    if find_code(text) is not None:
        return None
    match = _SIX_DIGITS.search(text)
    return match.group(1) if match else None


def link_facts(event: ZaloEvent, chat_user: ChatUser | None) -> dict:
    """Before the event's transaction: the answer of the phone-code check if
    the follower is sending a code (kept on the event, never asked twice)."""
    if "code_ok" in event.facts or chat_user is None or chat_user.state.get("step") != LINK_STEP:
        return event.facts
    code = code_in(event_text(event)) if event.event_name == "user_send_text" else None
    if code is None:
        return event.facts
    dossier = dossier_get_by_id(dossier_id=chat_user.state["dossier_id"])
    verified = phone_code_verify(phone=dossier.applicant_phone, purpose=PURPOSE, code=code)
    facts = {**event.facts, "code_ok": verified}
    ZaloEvent.objects.filter(pk=event.pk).update(facts=facts)
    return facts


def link_start(turn, code: str) -> None:
    dossier = dossier_public_lookup(code=code)
    if dossier is None:
        turn.say(f"Không tìm thấy hồ sơ {code}.", f"No dossier {code}.")
        return
    if ChatLink.objects.filter(chat_user=turn.chat_user, dossier=dossier).exists():
        turn.say(
            f"Bạn đã liên kết hồ sơ {code}; bạn sẽ nhận tin khi hồ sơ chuyển bước.",
            f"Dossier {code} is already linked; you will hear of its steps here.",
        )
        return
    try:
        phone = phone_normalize(dossier.applicant_phone)
        phone_code_send(phone=phone, purpose=PURPOSE, client=f"zalo:{turn.chat_user.zalo_user_id}")
    except PhoneInvalid:
        turn.say(
            f"Hồ sơ {code} không có số điện thoại di động để xác nhận. Hãy liên hệ nơi đã nộp hồ sơ.",
            f"Dossier {code} has no mobile number to confirm with. Please contact the desk that received it.",
        )
        return
    except PhoneCodeThrottled as refusal:
        turn.say(
            f"Đã gửi mã gần đây; hãy thử lại sau {refusal.retry_after} giây.",
            f"A code was sent recently; try again in {refusal.retry_after} s.",
        )
        return
    turn.chat_user.state = {"step": LINK_STEP, "dossier_id": dossier.pk, "code": code, "wrong": 0}
    masked = phone_mask(phone)
    turn.say(
        f"Mã xác nhận 6 chữ số đã được gửi bằng SMS tới số {masked} của hồ sơ {code}. "
        'Hãy gửi mã đó vào đây (hiệu lực 10 phút); gõ "hủy" để bỏ qua.',
        f"A six-digit code was sent by SMS to {masked}, the phone of dossier {code}. "
        'Send it here (valid 10 minutes); type "cancel" to stop.',
    )


def link_answer(turn, facts: dict) -> None:
    """The follower sent a code (`facts["code_ok"]`, checked before the transaction)."""
    state = turn.chat_user.state
    code = state["code"]
    if facts.get("code_ok"):
        ChatLink.objects.get_or_create(
            chat_user=turn.chat_user, dossier_id=state["dossier_id"], defaults={"linked_at": timezone.now()}
        )
        turn.chat_user.state = {}
        turn.say(
            f"Đã liên kết hồ sơ {code}. Bạn sẽ nhận tin nhắn tại đây mỗi khi hồ sơ chuyển bước. "
            f'Gõ "bỏ theo dõi {code}" để ngừng.',
            f"Dossier {code} is linked: you will get a message here at each of its steps. "
            f'Type "unlink {code}" to stop.',
        )
        return
    wrong = state.get("wrong", 0) + 1
    if wrong >= MAX_WRONG:
        turn.chat_user.state = {}
        turn.say(
            f'Mã không đúng hoặc đã hết hạn. Gõ "liên kết {code}" để nhận mã mới.',
            f'The code is wrong or has expired. Type "link {code}" for a new one.',
        )
        return
    turn.chat_user.state = {**state, "wrong": wrong}
    turn.say("Mã không đúng; hãy kiểm tra tin nhắn SMS và gửi lại.", "Wrong code; check the SMS and send it again.")


def unlink(turn, code: str) -> None:
    removed, _ = ChatLink.objects.filter(chat_user=turn.chat_user, dossier__code=code).delete()
    if removed:
        turn.say(f"Đã ngừng theo dõi hồ sơ {code}.", f"You no longer follow dossier {code}.")
    else:
        turn.say(f"Bạn chưa liên kết hồ sơ {code}.", f"You have not linked dossier {code}.")
