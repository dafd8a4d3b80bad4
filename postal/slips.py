"""The hand-over slip (biên bản giao nhận) of a shipment: the two
hand-overs of its leg (sender to postal worker, postal worker to receiver),
each with the time it was recorded and room for both parties to sign, and a
QR code of the tracking number. Printed on the layout of the dossier slips
(dossiers/slips.py), by WeasyPrint, with nothing loaded from the network."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone

from dossiers.slips import SlipForm, issuer_lines, pdf_from_html, qr_png_data_uri

from .models import Leg, Shipment, ShipmentStatus

FORM = SlipForm(0, "BIÊN BẢN GIAO NHẬN HỒ SƠ, KẾT QUẢ QUA DỊCH VỤ BƯU CHÍNH CÔNG ÍCH", "A4")
POSTAL_WORKER = "NHÂN VIÊN BƯU ĐIỆN"


@dataclass(frozen=True)
class Handover:
    title: str
    giver: str
    taker: str
    giver_name: str
    taker_name: str
    at: object  # when it was recorded, or None


def _first(shipment: Shipment, status: str):
    return next((row for row in shipment.tracking.all() if row.status == status), None)


def handover_context(shipment: Shipment) -> dict:
    dossier = shipment.dossier
    picked = _first(shipment, ShipmentStatus.PICKED_UP)
    delivered = _first(shipment, ShipmentStatus.DELIVERED)
    worker_in = picked.postal_worker if picked else ""
    worker_out = delivered.postal_worker if delivered else ""
    if shipment.leg == Leg.INBOUND:
        first = ("Người nộp hồ sơ giao cho nhân viên bưu điện", "NGƯỜI NỘP HỒ SƠ", POSTAL_WORKER)
        second = (
            "Nhân viên bưu điện giao cho bộ phận tiếp nhận và trả kết quả",
            POSTAL_WORKER,
            "NGƯỜI TIẾP NHẬN HỒ SƠ",
        )
        second_at = shipment.desk_received_at or shipment.delivered_at
    else:
        first = (
            "Bộ phận tiếp nhận và trả kết quả giao kết quả cho nhân viên bưu điện",
            "NGƯỜI TRẢ KẾT QUẢ",
            POSTAL_WORKER,
        )
        second = ("Nhân viên bưu điện phát kết quả cho người nhận", POSTAL_WORKER, "NGƯỜI NHẬN KẾT QUẢ")
        second_at = shipment.delivered_at
    handovers = [
        Handover(*first, giver_name=shipment.sender_name, taker_name=worker_in, at=shipment.picked_up_at),
        Handover(*second, giver_name=worker_out, taker_name=shipment.receiver_name, at=second_at),
    ]
    issuer_parent, issuer_unit = issuer_lines(dossier)
    return {
        "form": FORM,
        "dossier": dossier,
        "procedure": dossier.procedure,
        "shipment": shipment,
        "leg": Leg(shipment.leg).label.split(" / ")[0],
        "what": "Hồ sơ thủ tục hành chính" if shipment.leg == Leg.INBOUND else "Kết quả giải quyết thủ tục hành chính",
        "handovers": handovers,
        "issuer_parent": issuer_parent,
        "issuer_unit": issuer_unit,
        "issued_at": timezone.now(),
        "masked_id_number": dossier.masked_id_number,
        # The tracking number, or our order code while the carrier has not answered.
        "qr_data_uri": qr_png_data_uri(shipment.tracking_number or shipment.order_code),
    }


def handover_slip_pdf(*, shipment: Shipment) -> bytes:
    return pdf_from_html(render_to_string("postal/slips/handover.html", handover_context(shipment)))
