"""Feedback (phản ánh, kiến nghị) by chat: "phản ánh" starts it; the follower
picks a category, describes the problem, sends photos and the place (a
shared location, or an address typed), says "xong", and is asked, with the
consent text of `feedback.consent`, whether the authorities may process the
location; only "có" sends it (`feedback.services.feedback_submit`, channel
"zalo", the Zalo message id as `external_id`). The answer is kept on the
event that carries it (the follower's own message, stored). "không" drops
the report and the location.

Until then the draft (with the location) is the follower's conversation
state, and nothing else."""

from __future__ import annotations

import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from feedback import consent
from feedback.errors import FeedbackInputError
from feedback.photos import photos_check
from feedback.selectors import categories_active
from feedback.services import feedback_submit
from gisportal.messages import in_language

from .text import fold, has_phrase

STEPS = ("fb_category", "fb_text", "fb_place", "fb_consent")
DONE_WORDS = ("xong", "gui", "done", "send", "het")
YES_WORDS = ("co", "dong y", "yes", "ok", "agree")
NO_WORDS = ("khong", "no", "khong dong y")
MAX_PHOTOS = 3
PHOTO_TIMEOUT_S = 10


def feedback_start(turn) -> None:
    categories = list(categories_active().values_list("code", "name", "name_en"))
    turn.chat_user.state = {"step": "fb_category", "categories": [code for code, _, _ in categories]}
    lines = [
        f"{i}. {name_en if turn.language == 'en' and name_en else name}"
        for i, (_, name, name_en) in enumerate(categories, 1)
    ]
    turn.say(
        "Gửi phản ánh, kiến nghị. Chọn lĩnh vực (gõ số):\n" + "\n".join(lines) + '\nGõ "hủy" để dừng.',
        "Send feedback. Choose a category (type its number):\n" + "\n".join(lines) + '\nType "cancel" to stop.',
    )


def _place_prompt(turn) -> None:
    turn.say(
        f"Gửi ảnh (không bắt buộc, tối đa {MAX_PHOTOS}), chia sẻ vị trí nơi xảy ra sự việc hoặc gõ địa chỉ "
        '(ví dụ: phường Kinh Bắc). Gõ "xong" khi đã đủ.',
        f"Send photos (optional, at most {MAX_PHOTOS}), share the location of the problem or type an address "
        '(e.g. phường Kinh Bắc). Type "done" when finished.',
    )


def feedback_text(turn, text: str) -> None:
    """A text while a report is being written."""
    state = turn.chat_user.state
    folded = fold(text)
    step = state["step"]
    if step == "fb_category":
        codes = state["categories"]
        if folded.isdecimal() and 1 <= int(folded) <= len(codes):
            turn.chat_user.state = {"step": "fb_text", "category": codes[int(folded) - 1]}
            turn.say("Hãy mô tả vấn đề (tối đa 4.000 ký tự).", "Describe the problem (at most 4,000 characters).")
        else:
            turn.say(f"Gõ một số từ 1 đến {len(codes)}.", f"Type a number from 1 to {len(codes)}.")
    elif step == "fb_text":
        turn.chat_user.state = {**state, "step": "fb_place", "text": text.strip()[:4000], "photos": []}
        _place_prompt(turn)
    elif step == "fb_place":
        if has_phrase(folded, DONE_WORDS):
            _ask_consent(turn)
        else:
            turn.chat_user.state = {**state, "address": text.strip()[:300]}
            turn.say(f"Đã ghi địa chỉ: {text.strip()[:300]}", f"Address noted: {text.strip()[:300]}")
    elif step == "fb_consent":
        if has_phrase(folded, NO_WORDS):
            turn.chat_user.state = {}
            turn.say(
                "Đã hủy phản ánh; vị trí bạn gửi đã được xóa.",
                "The report is dropped; the location you sent is deleted.",
            )
        elif has_phrase(folded, YES_WORDS):
            _submit(turn)
        else:
            turn.say('Trả lời "có" hoặc "không".', 'Answer "yes" or "no".')


def feedback_location(turn, lon: float, lat: float) -> None:
    state = turn.chat_user.state
    turn.chat_user.state = {**state, "step": "fb_place", "lon": lon, "lat": lat}
    turn.say('Đã nhận vị trí. Gõ "xong" khi đã đủ.', 'Location received. Type "done" when finished.')


def feedback_photo(turn, url: str) -> None:
    state = turn.chat_user.state
    photos = list(state.get("photos", []))
    if len(photos) >= MAX_PHOTOS:
        turn.say(f"Tối đa {MAX_PHOTOS} ảnh.", f"At most {MAX_PHOTOS} photos.")
        return
    if not url.startswith(("https://", "http://")):
        turn.say("Không đọc được ảnh.", "The photo could not be read.")
        return
    turn.chat_user.state = {**state, "photos": [*photos, url]}
    turn.say(f"Đã nhận ảnh ({len(photos) + 1}).", f"Photo received ({len(photos) + 1}).")


def _ask_consent(turn) -> None:
    state = turn.chat_user.state
    if "lon" not in state and not state.get("address"):
        turn.say(
            "Cần vị trí (chia sẻ vị trí) hoặc địa chỉ nơi xảy ra sự việc.",
            "The place is needed: share the location or type an address.",
        )
        return
    vi, en = consent.consent_text()
    turn.chat_user.state = {**state, "step": "fb_consent"}
    turn.say(
        f'{vi}\nBạn đồng ý? Trả lời "có" hoặc "không".',
        f'{en}\nDo you agree? Answer "yes" or "no".',
    )


def _download(url: str, index: int) -> SimpleUploadedFile | None:
    """A photo the follower sent, fetched from Zalo's address (signed events
    only carry it), bounded in size."""
    limit = settings.FEEDBACK_PHOTO_MAX_BYTES
    try:
        with requests.get(url, timeout=PHOTO_TIMEOUT_S, stream=True) as response:
            if response.status_code != 200:
                return None
            content = response.raw.read(limit + 1, decode_content=True)
    except requests.RequestException:
        return None
    content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0]
    return SimpleUploadedFile(f"zalo-{index}.jpg", content, content_type=content_type)


def _submit(turn) -> None:
    state = turn.chat_user.state
    downloaded = [_download(url, i) for i, url in enumerate(state.get("photos", []), 1)]
    if any(photo is None for photo in downloaded):
        turn.chat_user.state = {**state, "step": "fb_place", "photos": []}
        turn.say(
            'Không tải được ảnh; hãy gửi lại ảnh rồi gõ "xong".',
            'A photo could not be fetched; send it again, then "done".',
        )
        return
    photos, problems = photos_check(downloaded)
    if problems:
        turn.chat_user.state = {**state, "step": "fb_place", "photos": []}
        turn.say(
            "Ảnh không hợp lệ: " + "; ".join(in_language(p, "vi") for p in problems),
            "Photos refused: " + "; ".join(in_language(p, "en") for p in problems),
        )
        return
    msg_id = str((turn.event.payload.get("message") or {}).get("msg_id") or turn.event.event_key)[:100]
    try:
        report = feedback_submit(
            category_code=state["category"],
            text=state["text"],
            lon=state.get("lon"),
            lat=state.get("lat"),
            photos=photos,
            channel="zalo",
            external_id=msg_id,
            consent_location=True,
            address_text=state.get("address", "") if "lon" not in state else "",
        )
    except FeedbackInputError as refusal:
        turn.chat_user.state = {**state, "step": "fb_place"}
        problems = [text for messages in refusal.errors.values() for text in messages]
        turn.say(
            "Chưa gửi được: " + "; ".join(in_language(p, "vi") for p in problems),
            "Not sent: " + "; ".join(in_language(p, "en") for p in problems),
        )
        return
    turn.chat_user.state = {}
    link = f"{settings.PUBLIC_BASE_URL}{reverse('feedback-page', args=[report.public_id])}"
    turn.say(
        f"Đã gửi phản ánh {report.public_id}. Cơ quan có thẩm quyền sẽ xử lý theo thời hạn quy định. Theo dõi: {link}",
        f"Feedback {report.public_id} is sent; the competent agency will handle it within the set time. "
        f"Follow it: {link}",
    )
