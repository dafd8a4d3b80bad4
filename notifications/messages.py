"""The words of a notification: the dossier code, its new state, what to do
next and the lookup link, in Vietnamese or English. Written once, when the
dossier event happens, and kept on the row: a retry sends the same text."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from dossiers.events import DossierChanged
from dossiers.extensions import dossier_step_label
from dossiers.models import Delivery, Dossier, Status
from gisportal.messages import in_language

# Events a citizen is told about. Steps other apps record on a dossier
# (`payment_*`, `shipment_*`) are told too; anything else is internal.
NOTIFIED_ACTIONS = frozenset(
    {
        "receive",
        "request_completion",
        "request_supplement",
        "mark_result_ready",
        "return_result",
        "refuse",
        "withdraw",
        "stop",
        "apologize",
    }
)
NOTIFIED_PREFIXES = ("payment_", "shipment_")

PORTAL_NAME = {"vi": "Cổng dịch vụ công Bắc Ninh", "en": "Bắc Ninh public service portal"}
# Zalo accepts up to 2,000 characters of text.
ZALO_TEXT_MAX = 2000
NOTE_MAX = 600


def is_notified(action: str) -> bool:
    return action in NOTIFIED_ACTIONS or action.startswith(NOTIFIED_PREFIXES)


@dataclass(frozen=True)
class Words:
    vi: str
    en: str

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.vi


# What happened ({code}, {note}, {point}, {due}, {appointment}) and what to do next.
_HAPPENED = {
    "receive": Words(
        "Hồ sơ {code} đã được tiếp nhận tại {point}. Hẹn trả kết quả: {due}.",
        "Dossier {code} was received at {point}. Result due: {due}.",
    ),
    "request_completion": Words(
        "Hồ sơ {code} chưa được tiếp nhận: {point} đề nghị bổ sung, hoàn thiện: {note}",
        "Dossier {code} has not been received yet: {point} asks you to complete it: {note}",
    ),
    "request_supplement": Words(
        "Hồ sơ {code} cần bổ sung, hoàn thiện: {note}",
        "Dossier {code} needs a supplement: {note}",
    ),
    "mark_result_ready": Words("Hồ sơ {code} đã có kết quả.", "The result of dossier {code} is ready."),
    "return_result": Words("Hồ sơ {code} đã được trả kết quả.", "The result of dossier {code} has been returned."),
    "refuse": Words("Hồ sơ {code} bị từ chối. Lý do: {note}", "Dossier {code} was refused. Reason: {note}"),
    "withdraw": Words(
        "Hồ sơ {code} đã được rút theo đề nghị của người nộp.", "Dossier {code} was withdrawn at your request."
    ),
    "stop": Words(
        "Hồ sơ {code} đã dừng xử lý. Lý do: {note}", "Handling of dossier {code} was stopped. Reason: {note}"
    ),
    "apologize": Words(
        "Hồ sơ {code} bị chậm so với ngày hẹn. Cơ quan xin lỗi và hẹn lại ngày trả kết quả: {appointment}. {note}",
        "Dossier {code} is late. The agency apologises and sets a new date for the result: {appointment}. {note}",
    ),
    "payment_": Words("Hồ sơ {code} — thanh toán phí, lệ phí: {note}", "Dossier {code} — fee payment: {note}"),
    "shipment_": Words("Hồ sơ {code} — bưu chính: {note}", "Dossier {code} — public post: {note}"),
}

_NEXT = {
    "receive": Words(
        "Bạn có thể theo dõi tiến độ tại đường dẫn dưới đây; cổng sẽ báo khi cần bổ sung hoặc khi có kết quả.",
        "Follow its progress at the link below; the portal tells you when a supplement is needed "
        "or the result is ready.",
    ),
    "request_completion": Words(
        "Vui lòng nộp giấy tờ bổ sung trên trang hồ sơ của bạn; hồ sơ sẽ quay lại chờ tiếp nhận. "
        "Thời hạn giải quyết chỉ bắt đầu khi hồ sơ được tiếp nhận.",
        "Please hand in the missing documents on your dossier's page; it then waits for receipt again. "
        "The deadline starts only when the dossier is received.",
    ),
    "request_supplement": Words(
        "Vui lòng nộp giấy tờ bổ sung trên trang hồ sơ của bạn hoặc tại {point}. "
        "Thời gian chờ bổ sung không tính vào thời hạn giải quyết.",
        "Please hand in the missing documents on your dossier's page or at {point}. "
        "The time you take does not count against the deadline.",
    ),
    "mark_result_ready": Words(
        "Mang giấy tiếp nhận hồ sơ và giấy tờ tùy thân đến {point} để nhận kết quả.",
        "Bring the receipt and your ID to {point} to collect the result.",
    ),
    "mark_result_ready_post": Words(
        "Kết quả sẽ được gửi qua bưu chính đến địa chỉ bạn đã đăng ký.",
        "The result will be sent by post to the address you gave.",
    ),
    "return_result": Words(
        "Bạn có thể đánh giá mức độ hài lòng về việc giải quyết hồ sơ trên cổng.",
        "You may rate how your dossier was handled on the portal.",
    ),
    "refuse": Words(
        "Xem lý do trong phiếu từ chối; bạn có thể nộp hồ sơ mới khi đủ điều kiện.",
        "See the refusal slip for the reason; you may submit a new dossier once it can be accepted.",
    ),
    "withdraw": Words("Bạn không cần làm gì thêm.", "Nothing more is needed from you."),
    "stop": Words("Liên hệ {point} nếu bạn cần giải thích thêm.", "Contact {point} if you need an explanation."),
    "apologize": Words("Kết quả sẽ được trả vào ngày hẹn mới.", "The result will be returned on the new date."),
    "payment_": Words("Xem chi tiết tại đường dẫn dưới đây.", "See the details at the link below."),
    "shipment_": Words("Xem chi tiết tại đường dẫn dưới đây.", "See the details at the link below."),
}

_LABELS = {
    "state": Words("Trạng thái", "Status"),
    "procedure": Words("Thủ tục", "Procedure"),
    "next": Words("Việc cần làm", "What to do next"),
    "lookup": Words("Tra cứu hồ sơ", "Look up the dossier"),
    "settings": Words("Đổi cách nhận thông báo", "Change how you are notified"),
    "greeting": Words("Kính gửi {name},", "Dear {name},"),
    "subject": Words("Hồ sơ {code}: {state}", "Dossier {code}: {state}"),
}


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str  # e-mail and inbox
    short: str  # Zalo: no greeting, within ZALO_TEXT_MAX
    link: str


def _key(action: str) -> str:
    for prefix in NOTIFIED_PREFIXES:
        if action.startswith(prefix):
            return prefix
    return action


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else "—"


def lookup_link(code: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse('dossier-lookup-page')}?code={quote(code)}"


def notification_compose(*, change: DossierChanged, dossier: Dossier, language: str) -> Composed:
    key = _key(change.action)
    note = " ".join(change.note.split())
    if len(note) > NOTE_MAX:
        note = note[: NOTE_MAX - 1] + "…"
    fields = {
        "code": dossier.code,
        "note": note,
        "point": dossier.receiving_point.name,
        "due": _moment(dossier.due_at),
        "appointment": _moment(dossier.appointment_at),
    }
    state = in_language(Status(change.to_status).label, language)
    happened = _HAPPENED[key].get(language).format(**fields).strip()
    step = dossier_step_label(change.action) if key in NOTIFIED_PREFIXES else None
    if step is not None:
        # The step's own name, as the app that records it registered it ("Fee paid").
        what = in_language(step, language)
        # The note of a step the portal records itself (a gateway's, the
        # carrier's) is "Tiếng Việt / English": the recipient's half.
        note = in_language(note, language)
        happened = f"{'Dossier' if language == 'en' else 'Hồ sơ'} {dossier.code} — {what}" + (
            f": {note}" if note else "."
        )
    next_key = (
        "mark_result_ready_post" if key == "mark_result_ready" and dossier.result_delivery == Delivery.POST else key
    )
    next_step = _NEXT[next_key].get(language).format(**fields)
    link = lookup_link(dossier.code)
    label = {name: words.get(language) for name, words in _LABELS.items()}
    facts = [
        happened,
        "",
        f"{label['state']}: {state}",
        f"{label['procedure']}: {dossier.procedure.name}",
        f"{label['next']}: {next_step}",
        f"{label['lookup']}: {link}",
    ]
    greeting = label["greeting"].format(name=dossier.applicant_name)
    settings_link = f"{settings.PUBLIC_BASE_URL}{reverse('notification-settings')}"
    body = "\n".join([greeting, "", *facts, "", "—", PORTAL_NAME[language], f"{label['settings']}: {settings_link}"])
    short = "\n".join(line for line in facts if line)
    if len(short) > ZALO_TEXT_MAX:
        short = short[: ZALO_TEXT_MAX - 1] + "…"
    subject = label["subject"].format(code=dossier.code, state=state)
    return Composed(subject=subject[:300], body=body, short=short, link=link)
