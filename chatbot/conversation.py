"""What the OA answers a follower: one function per thing they can ask, in
Vietnamese (accents optional) or English.

- a dossier code (with or without "tra cứu"): the public lookup's fields;
- a shared location (`user_send_location`), or "gần nhất" first: the nearest
  service points, open ones first, with geodesic distances, opening state,
  the estimated wait and a map link;
- "liên kết <mã>": link the dossier (a code sent to its phone; `linking`),
  then its status changes come here; "bỏ theo dõi <mã>" unlinks;
- "phản ánh": a feedback report, step by step, with photos, the place and
  the explicit consent to process the location (`feedback_chat`);
- "hủy" drops the step under way;
- "English" / "Tiếng Việt": the language of the answers and notifications;
- follow: a welcome; unfollow: no more messages;
- anything else: what the OA can do.

`conversation_handle` runs in the worker, inside the transaction that marks
the event done, and returns the replies (Zalo `message` objects); it writes
only the follower's own rows."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from dossiers.lookup import CODE_PATTERN, public_view
from dossiers.selectors import dossier_public_read
from gisportal.messages import in_language

from .feedback_chat import STEPS as FEEDBACK_STEPS
from .feedback_chat import feedback_location, feedback_photo, feedback_start, feedback_text
from .linking import LINK_STEP, link_answer, link_start, unlink
from .models import ChatUser, ZaloEvent
from .nearest import HelpPoint, help_nearby
from .text import fold, has_phrase

# Loose: a code typed in lower case or with spaces around its dashes.
_CODE_IN_TEXT = re.compile(r"[0-9a-z]{3}\.[0-9a-z]{2}\.[0-9a-z]{2}\.[a-z][0-9a-z]{2}\s*-\s*\d{6}\s*-\s*\d{4,6}")
LOOKUPS_PER_10_MIN = 30
NEAREST_LIMIT = 5
FAR_M = 50_000

HELP_WORDS = ("help", "huong dan", "tro giup", "menu", "hi", "hello", "xin chao", "chao", "bat dau", "start")
NEAREST_WORDS = ("gan nhat", "gan day", "gan toi", "o dau", "nearest", "nearby", "where")
ENGLISH_WORDS = ("english", "tieng anh")
VIETNAMESE_WORDS = ("tieng viet", "vietnamese")
LINK_WORDS = ("lien ket", "theo doi", "nhan thong bao", "link", "follow")
UNLINK_WORDS = ("huy lien ket", "bo theo doi", "ngung theo doi", "unlink", "unfollow")
FEEDBACK_WORDS = ("phan anh", "kien nghi", "gop y", "feedback", "complaint")
CANCEL_WORDS = frozenset({"huy", "thoat", "cancel", "dung lai", "bo qua", "stop", "quit"})

_ON_TIME = {
    "early": ("Xong trước hạn", "Finished early"),
    "on_time": ("Xong đúng hạn", "Finished on time"),
    "late": ("Quá hạn", "Late"),
    "in_time": ("Trong hạn", "Within its deadline"),
    "closed": ("Đã kết thúc", "Closed"),
    # An online dossier the desk has not received yet (issue #15).
    "not_received": ("Chờ tiếp nhận, thời hạn tính từ khi tiếp nhận", "Waiting for receipt; the deadline starts then"),
}


@dataclass
class Turn:
    chat_user: ChatUser
    event: ZaloEvent
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.chat_user.language or "vi"

    def words(self, vi: str, en: str) -> str:
        return en if self.language == "en" else vi

    def say(self, vi: str, en: str) -> None:
        self.replies.append({"text": self.words(vi, en)})


def _moment(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M") if iso else "—"


def find_code(text: str) -> str | None:
    """A dossier code in a message, upper-cased, or None."""
    match = _CODE_IN_TEXT.search(fold(text))
    if match is None:
        return None
    code = re.sub(r"\s+", "", match.group(0)).upper()
    return code if CODE_PATTERN.fullmatch(code) else None


def _lookup_allowed(chat_user: ChatUser) -> bool:
    """At most LOOKUPS_PER_10_MIN lookups per follower (codes are not secrets,
    but trying them one after another should not be free)."""
    key = f"zalo-lookups:{chat_user.pk}"
    cache.add(key, 0, timeout=600)
    try:
        return cache.incr(key) <= LOOKUPS_PER_10_MIN
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=600)
        return True


def reply_lookup(turn: Turn, code: str) -> None:
    if not _lookup_allowed(turn.chat_user):
        turn.say(
            "Bạn đã tra cứu nhiều lần; vui lòng thử lại sau ít phút.", "Too many lookups; try again in a few minutes."
        )
        return
    dossier = dossier_public_read(code=code)  # what the look-up API and page read: the public view only
    if dossier is None:
        turn.say(
            f"Không tìm thấy hồ sơ {code}. Mã hồ sơ in trên giấy tiếp nhận, dạng 000.00.13.H04-260427-0001.",
            f"No dossier {code}. The code is printed on your receipt, like 000.00.13.H04-260427-0001.",
        )
        return
    view = public_view(dossier)
    language = turn.language
    lines = [
        turn.words(f"Hồ sơ {view['code']}", f"Dossier {view['code']}"),
        turn.words("Thủ tục: ", "Procedure: ") + view["procedure"]["name"],
        turn.words("Trạng thái: ", "Status: ") + in_language(view["status_label"], language),
        turn.words("Tiếp nhận: ", "Received: ") + _moment(view["received_at"]),
        turn.words("Hẹn trả kết quả: ", "Result due: ") + _moment(view["due_at"]),
    ]
    if not view["received_at"]:
        lines.insert(3, turn.words("Nộp lúc: ", "Submitted: ") + _moment(view["submitted_at"]))
    if view["appointment_at"]:
        lines.append(turn.words("Hẹn lại: ", "New date: ") + _moment(view["appointment_at"]))
    if view["finished_at"]:
        lines.append(turn.words("Hoàn thành: ", "Finished: ") + _moment(view["finished_at"]))
    vi_state, en_state = _ON_TIME[view["on_time_state"]]
    lines.append(turn.words("Tiến độ: ", "Progress: ") + turn.words(vi_state, en_state))
    link = f"{settings.PUBLIC_BASE_URL}{reverse('dossier-lookup-page')}?code={view['code']}"
    lines.append(turn.words("Chi tiết: ", "Details: ") + link)
    turn.replies.append({"text": "\n".join(lines)})


def map_link(*, lon: float, lat: float) -> str:
    """The portal's map, searching the nearest points from (lon, lat)."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('map')}?near={lon:.6f},{lat:.6f}"


def format_metres(distance_m: float) -> str:
    """1234.4 → "1.234 m" (Vietnamese thousands separator)."""
    return f"{round(distance_m):,}".replace(",", ".") + " m"


def _hhmm(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    same_day = local.date() == timezone.localdate()
    return f"{local:%H:%M}" if same_day else f"{local:%H:%M %d/%m}"


def opening_words(turn: Turn, point: HelpPoint) -> str:
    """ "Đang mở, đóng lúc 17:00" / "Đang đóng, mở lúc 07:30 05/01"."""
    if point.open_now is None:
        return turn.words("Chưa rõ giờ mở cửa", "Opening hours unknown")
    if point.open_now:
        closes = _hhmm(point.closes_at)
        return turn.words(f"Đang mở, đóng lúc {closes}", f"Open, closes at {closes}")
    opens = _hhmm(point.opens_at)
    return turn.words(f"Đang đóng, mở lúc {opens}", f"Closed, opens at {opens}")


def _point_element(turn: Turn, rank: int, point: HelpPoint, link: str) -> dict[str, Any]:
    details = [format_metres(point.distance_m), opening_words(turn, point)]
    if point.open_now:
        details.append(
            turn.words(f"chờ khoảng {point.estimated_wait_min} phút", f"about {point.estimated_wait_min} min wait")
        )
    details.append(point.address)
    return {
        "title": f"{rank}. {point.name}",
        "subtitle": " · ".join(part for part in details if part),
        "default_action": {"type": "oa.open.url", "url": link},
    }


def reply_nearest(turn: Turn, *, lon: float, lat: float) -> None:
    points = help_nearby(lon=lon, lat=lat, limit=NEAREST_LIMIT)
    if not points or points[0].distance_m > FAR_M:
        turn.say(
            "Không có điểm tiếp nhận hồ sơ nào trong vòng 50 km quanh vị trí bạn gửi.",
            "There is no service point within 50 km of the location you shared.",
        )
        return
    link = map_link(lon=lon, lat=lat)
    turn.replies.append(
        {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "list",
                    "elements": [_point_element(turn, rank, point, link) for rank, point in enumerate(points, 1)],
                    "buttons": [
                        {
                            "title": turn.words("Xem trên bản đồ", "See them on the map"),
                            "type": "oa.open.url",
                            "payload": {"url": link},
                        }
                    ],
                },
            }
        }
    )


def reply_help(turn: Turn) -> None:
    turn.say(
        "Cổng dịch vụ công Bắc Ninh trên Zalo. Bạn có thể:\n"
        "• gửi mã hồ sơ (ví dụ 000.00.13.H04-260427-0001) để tra cứu;\n"
        '• gõ "liên kết" và mã hồ sơ để nhận tin khi hồ sơ chuyển bước (xác nhận bằng mã gửi tới '
        "số điện thoại của hồ sơ);\n"
        '• gõ "phản ánh" để gửi phản ánh, kiến nghị kèm ảnh và vị trí;\n'
        "• chia sẻ vị trí để tìm nơi nộp hồ sơ gần nhất;\n"
        '• gõ "English" to chat in English.',
        "Bắc Ninh public service portal on Zalo. You can:\n"
        "• send a dossier code (e.g. 000.00.13.H04-260427-0001) to look it up;\n"
        '• type "link" and a dossier code to hear of its steps here (confirmed by a code sent to the '
        "dossier's phone);\n"
        '• type "feedback" to report a problem with photos and a location;\n'
        "• share your location to find the nearest place to submit a dossier;\n"
        '• type "Tiếng Việt" để trò chuyện bằng tiếng Việt.',
    )


def shared_location(payload: dict[str, Any]) -> tuple[float, float] | None:
    """(lon, lat) of a `user_send_location` event:
    message.attachments[0].payload.coordinates.latitude/longitude."""
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    for attachment in message.get("attachments") or []:
        body = attachment.get("payload") if isinstance(attachment, dict) else None
        coordinates = body.get("coordinates") if isinstance(body, dict) else None
        if not isinstance(coordinates, dict):
            continue
        try:
            lat, lon = float(coordinates["latitude"]), float(coordinates["longitude"])
        except (KeyError, TypeError, ValueError):
            return None
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lon, lat
    return None


def _cancelled(turn: Turn, folded: str) -> bool:
    """ "hủy" (or "thoát", "cancel") while a step is under way: it is dropped,
    with whatever it held (a location for a report)."""
    if not turn.chat_user.state or re.sub(r"[^a-z ]", "", folded).strip() not in CANCEL_WORDS:
        return False
    turn.chat_user.state = {}
    turn.say("Đã hủy.", "Cancelled.")
    return True


def _on_text(turn: Turn, text: str, facts: dict) -> None:
    folded = fold(text)
    code = find_code(text)
    step = turn.chat_user.state.get("step")
    if _cancelled(turn, folded):
        return
    if step == LINK_STEP and "code_ok" in facts:
        link_answer(turn, facts)
        return
    if step in FEEDBACK_STEPS:
        feedback_text(turn, text)
        return
    if has_phrase(folded, ENGLISH_WORDS):
        turn.chat_user.language = "en"
    elif has_phrase(folded, VIETNAMESE_WORDS):
        turn.chat_user.language = "vi"
    if has_phrase(folded, ENGLISH_WORDS + VIETNAMESE_WORDS):
        turn.say("Từ giờ tôi trả lời bằng tiếng Việt.", "From now on I answer in English.")
        return
    if code is not None and has_phrase(folded, UNLINK_WORDS):
        unlink(turn, code)
    elif code is not None and has_phrase(folded, LINK_WORDS):
        link_start(turn, code)
    elif code is not None:
        reply_lookup(turn, code)
    elif has_phrase(folded, FEEDBACK_WORDS):
        feedback_start(turn)
    elif has_phrase(folded, NEAREST_WORDS):
        turn.say(
            'Hãy chia sẻ vị trí của bạn (nút "Vị trí" trong Zalo) để tìm nơi nộp hồ sơ gần nhất.',
            'Share your location (the "Location" button in Zalo) to find the nearest place to submit a dossier.',
        )
    else:
        reply_help(turn)


def _image_url(payload: dict[str, Any]) -> str:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    for attachment in message.get("attachments") or []:
        body = attachment.get("payload") if isinstance(attachment, dict) else None
        if isinstance(body, dict) and isinstance(body.get("url"), str):
            return body["url"]
    return ""


def conversation_handle(event: ZaloEvent, chat_user: ChatUser, facts: dict | None = None) -> list[dict[str, Any]]:
    """The replies to one event (possibly none); updates `chat_user` in memory.
    `facts`: what the worker learnt before the transaction (a phone code's check)."""
    turn = Turn(chat_user=chat_user, event=event)
    name = event.event_name
    step = chat_user.state.get("step")
    if name == "follow":
        chat_user.followed = True
        reply_help(turn)
    elif name == "unfollow":
        chat_user.followed = False
        chat_user.state = {}
    elif name == "user_send_location":
        location = shared_location(event.payload)
        if location is None:
            turn.say("Không đọc được vị trí bạn gửi.", "The location could not be read.")
        elif step in ("fb_place", "fb_consent"):
            feedback_location(turn, lon=location[0], lat=location[1])
        else:
            reply_nearest(turn, lon=location[0], lat=location[1])
    elif name == "user_send_image" and step == "fb_place":
        feedback_photo(turn, _image_url(event.payload))
    elif name == "user_send_text":
        message = event.payload.get("message")
        _on_text(turn, str(message.get("text") or "") if isinstance(message, dict) else "", facts or {})
    elif name.startswith("user_send_"):
        reply_help(turn)
    if name.startswith("user_send_") or name == "follow":
        chat_user.last_message_at = timezone.now()
    return turn.replies
