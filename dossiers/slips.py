"""PDF slips of Circular 01/2018/TT-VPCP, in Vietnamese, rendered with
WeasyPrint: form 1 receipt and appointment (with a QR code of the public
lookup link), form 2 supplement request, form 3 refusal, form 4 apology and
new date, form 5 process control slip (every hand-over).

Slips go to the applicant and to officials, so they carry the applicant's
name and address; the citizen ID is printed masked all the same, as a slip
is easily left on a counter. Everything printed comes from the database and
is escaped by the template engine; WeasyPrint may load nothing but `data:`
URLs, so no text in a dossier can make the server fetch a URL."""

import base64
import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from django.template.loader import render_to_string
from django.utils import timezone

from gisportal.accounts.models import Role
from gisportal.api import message
from layers.models import ServicePointKind

from .components import components_received
from .extensions import TO_APPLICANT, TO_DESK, dossier_step_label, dossier_step_receiver, step_label
from .models import Apology, Channel, Dossier, DossierEvent, Status, Timeliness
from .serializers import lookup_url
from .workflow import BY_ACTION


class SlipNotApplicable(Exception):
    """The slip does not apply to the dossier yet (409): a refusal slip for a
    dossier never refused, an apology slip without an apology, ..."""

    def __init__(self, *, kind: str, vi: str, en: str):
        self.kind = kind
        super().__init__(message(vi, en))


@dataclass(frozen=True)
class SlipForm:
    number: int
    title: str
    page_size: str


FORMS: dict[str, SlipForm] = {
    "receipt": SlipForm(1, "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "A5"),
    "supplement": SlipForm(2, "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "A5"),
    "refusal": SlipForm(3, "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ", "A5"),
    "apology": SlipForm(4, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", "A5"),
    # The control slip's table of hand-overs needs the width of an A4 page.
    "control": SlipForm(5, "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", "A4"),
}

_APPLICANT = "Người nộp hồ sơ"
_ACTION_NAMES = {
    "receive": "Tiếp nhận hồ sơ",
    "submit": "Nộp hồ sơ trực tuyến",
    "apologize": "Xin lỗi, hẹn lại ngày trả kết quả",
}
# Who a step hands the dossier to, when the event does not name an agency.
_TO_APPLICANT = frozenset(
    {"request_supplement", "request_completion", "refuse", "return_result", "apologize", "withdraw"}
)
_TO_DESK = frozenset({"receive", "submit", "complete", "mark_result_ready"})
# Who signs a refusal: the desk refuses to receive, the agency to decide.
_SIGNERS = {
    Role.DESK_OFFICER: "NGƯỜI TIẾP NHẬN HỒ SƠ",
    Role.PROCESSING_OFFICER: "CÁN BỘ XỬ LÝ HỒ SƠ",
    Role.LEADER: "THỦ TRƯỞNG CƠ QUAN",
}


def _vi(label: str) -> str:
    """The Vietnamese half of a "Vietnamese / English" label."""
    return label.split(" / ", 1)[0]


@lru_cache(maxsize=512)
def qr_png_data_uri(data: str) -> str:
    """The QR code as a PNG data URI: one pixel per module (printed with
    crisp edges), so the PDF stays small and any phone reads it."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def issuer_lines(dossier: Dossier) -> tuple[str, str]:
    """The two lines of the upper-left header: the governing body, then the
    receiving unit (the service point that received the dossier)."""
    point = dossier.receiving_point
    if point.kind == ServicePointKind.COMMUNE_DESK and point.admin_unit_id:
        parent = f"UBND {point.admin_unit.name}"
    elif point.kind == ServicePointKind.POST_OFFICE:
        parent = "BƯU ĐIỆN TỈNH BẮC NINH"
    else:
        parent = "UBND TỈNH BẮC NINH"
    return parent.upper(), point.name.upper()


def _step_result(event: DossierEvent, dossier: Dossier) -> tuple[str, bool]:
    """Column "Kết quả" of form 5 and whether it is late: the finishing step
    gets the dossier's classification; any other step is in time or late
    against the due date (supplement pauses already added to it)."""
    if dossier.timeliness and event.at == dossier.finished_at:
        return _vi(Timeliness(dossier.timeliness).label), dossier.timeliness == Timeliness.LATE
    if dossier.due_at is None:  # before receipt there is no deadline to be late against
        return "Trong hạn", False
    late = timezone.localtime(event.at).date() > timezone.localtime(dossier.due_at).date()
    return (_vi(Timeliness.LATE.label) if late else "Trong hạn"), late


def _step_name(action: str) -> str:
    """A step that is not a move of the workflow: the dossier's own
    (receive, apologize) or one another app recorded (a fee paid)."""
    if action in _ACTION_NAMES:
        return _ACTION_NAMES[action]
    # Steps of the core that are not moves (an officer assigned, a result attached), then other apps'.
    label = step_label(action) or dossier_step_label(action)
    return _vi(label) if label else action


def _office(event: DossierEvent) -> str:
    if event.actor_point is not None:
        return event.actor_point.name
    return event.actor_agency.name if event.actor_agency is not None else ""


def _control_rows(dossier: Dossier, events: list[DossierEvent]) -> list[dict]:
    """One row per step: who handed over (person, role, office), who took
    it, when, and whether it was in time."""
    rows = []
    holder = dossier.receiving_point.name
    for event in events:
        hands_to = dossier_step_receiver(event.action)  # a step another app recorded
        if event.to_agency is not None:
            receiver = holder = event.to_agency.name
        elif event.action in _TO_APPLICANT or hands_to == TO_APPLICANT:
            receiver = _APPLICANT
        elif event.action in _TO_DESK or hands_to == TO_DESK:
            receiver = dossier.receiving_point.name
        elif hands_to:
            receiver = _vi(hands_to)
        else:
            receiver = holder
        transition = BY_ACTION.get(event.action)
        result, late = _step_result(event, dossier)
        rows.append(
            {
                "step": _vi(transition.label) if transition else _step_name(event.action),
                "actor": event.actor_name,
                "role": _vi(Role(event.actor_role).label) if event.actor_role in Role.values else "",
                "office": _office(event),
                "receiver": receiver,
                "at": event.at,
                "result": result,
                "late": late,
                "note": event.note,
            }
        )
    return rows


def _documents(procedure) -> list[str]:
    """The catalogue's document list: plain strings, or objects with a name
    (and a number of copies) as an import may give them."""
    documents = []
    for item in procedure.required_documents or []:
        if isinstance(item, dict):
            name = item.get("name") or item.get("title") or ""
            copies = item.get("copies") or item.get("quantity")
            documents.append(f"{name} ({copies} bản)" if name and copies else name)
        else:
            documents.append(str(item))
    return [d for d in documents if d]


def _last_event(events: list[DossierEvent], action: str | None) -> DossierEvent | None:
    matching = [e for e in events if action is None or e.action == action]
    return matching[-1] if matching else None


def slip_context(*, dossier: Dossier, kind: str) -> dict:
    """What the template of `kind` prints; SlipNotApplicable when the slip
    has nothing to say yet."""
    form = FORMS[kind]
    events = list(dossier.events.select_related("actor_agency", "actor_point", "to_agency"))
    issuer_parent, issuer_unit = issuer_lines(dossier)
    context = {
        "form": form,
        "kind": kind,
        "dossier": dossier,
        "procedure": dossier.procedure,
        "issuer_parent": issuer_parent,
        "issuer_unit": issuer_unit,
        "masked_id_number": dossier.masked_id_number,
        "documents": _documents(dossier.procedure),
        "fee": f"{dossier.fee_vnd:,}".replace(",", ".") + " đồng" if dossier.fee_vnd else "Không thu phí, lệ phí",
        "channel": _vi(Channel(dossier.channel).label),
        "issued_at": dossier.received_at or dossier.submitted_at,
    }
    if kind == "receipt":
        if dossier.received_at is None:
            raise SlipNotApplicable(
                kind=kind,
                vi="Hồ sơ đang chờ bộ phận một cửa tiếp nhận: giấy tiếp nhận và hẹn trả kết quả chỉ có khi "
                "hồ sơ đã được tiếp nhận.",
                en="The dossier is waiting for the desk to receive it: the receipt and appointment slip "
                "exists only once it is received.",
            )
        received = _last_event(events, "receive")
        # An online dossier is received by the system: nobody signs for it.
        desk = received is not None and received.actor_role != Role.CITIZEN
        context["receiver_name"] = received.actor_name if desk else ""
        # What was really received, by component, when the dossier was sent
        # by component; otherwise the catalogue's list as before.
        context["received_components"] = components_received(dossier)
        context["lookup_url"] = lookup_url(dossier.code)
        context["qr_data_uri"] = qr_png_data_uri(context["lookup_url"])
    elif kind == "supplement":
        # Form 2 asks to supplement and complete: after receipt (the agency's
        # request) or before it (the desk's request to complete).
        event = _last_event([e for e in events if e.action in ("request_supplement", "request_completion")], None)
        if event is None:
            raise SlipNotApplicable(
                kind=kind,
                vi="Hồ sơ chưa có yêu cầu bổ sung nào, chưa thể in phiếu yêu cầu bổ sung.",
                en="No supplement was requested for this dossier; there is no supplement slip to print.",
            )
        context.update(event=event, event_office=_office(event), reason=event.note, issued_at=event.at)
    elif kind == "refusal":
        event = _last_event(events, "refuse")
        if event is None:
            raise SlipNotApplicable(
                kind=kind,
                vi="Hồ sơ không bị từ chối, chưa thể in phiếu từ chối.",
                en="This dossier was not refused; there is no refusal slip to print.",
            )
        context.update(
            event=event,
            event_office=_office(event),
            reason=event.note,
            issued_at=event.at,
            signer_title=_SIGNERS.get(event.actor_role, "NGƯỜI TIẾP NHẬN HỒ SƠ"),
        )
    elif kind == "apology":
        apology = Apology.objects.filter(dossier=dossier).order_by("-created_at", "-id").first()
        if apology is None:
            raise SlipNotApplicable(
                kind=kind,
                vi="Hồ sơ chưa có văn bản xin lỗi, hẹn lại ngày trả kết quả.",
                en="No apology with a new date was recorded for this dossier; there is no apology slip to print.",
            )
        context.update(apology=apology, reason=apology.reason, issued_at=apology.created_at)
    elif kind == "control":
        context.update(
            rows=_control_rows(dossier, events),
            issued_at=timezone.now(),
            status=_vi(Status(dossier.status).label),
            timeliness=_vi(Timeliness(dossier.timeliness).label) if dossier.timeliness else "",
            lookup_url=lookup_url(dossier.code),
        )
    return context


def slip_pdf(*, dossier: Dossier, kind: str) -> bytes:
    """The slip `kind` (one of serializers.SLIP_KINDS, the keys of FORMS) of
    `dossier` as PDF bytes; SlipNotApplicable when it does not apply yet."""
    return pdf_from_html(render_to_string(f"dossiers/slips/{kind}.html", slip_context(dossier=dossier, kind=kind)))


def pdf_from_html(html: str) -> bytes:
    """A printed page (a slip of this module, or another app's on the same
    layout) as PDF bytes."""
    # Imported here: WeasyPrint loads Pango and its fonts (about half a
    # second), which only the processes that print slips need to pay for.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Only the inline images we embed: no file, no network.
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()
