"""The life of a payment request as data: which move takes it from which
states to which, and the action its event on the dossier carries.
`services._move` is the only code that applies it.

    (made on receipt) -> pending
    pending, failed   --fail-->     failed     (the gateway says the attempt failed; still payable)
    pending, failed   --pay-->      paid       (gateway IPN, desk, bank statement line)
    expired           --pay_late--> paid       (paid at the gateway or bank before the due time,
                                                reported after the expiry sweep closed it)
    pending, failed   --expire-->   expired    (due time passed, or the dossier was closed)
    paid              --refund-->   refunded   (dossier refused or withdrawn before processing)
"""

from dataclasses import dataclass

from .models import RequestStatus

PENDING, PAID, FAILED, EXPIRED, REFUNDED = (
    RequestStatus.PENDING,
    RequestStatus.PAID,
    RequestStatus.FAILED,
    RequestStatus.EXPIRED,
    RequestStatus.REFUNDED,
)


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[str]
    target: str
    action: str  # the dossier event (`dossier_record_event`)


MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        Move("fail", frozenset({PENDING, FAILED}), FAILED, "payment_failed"),
        Move("pay", frozenset({PENDING, FAILED}), PAID, "payment_paid"),
        Move("pay_late", frozenset({EXPIRED}), PAID, "payment_paid"),
        Move("expire", frozenset({PENDING, FAILED}), EXPIRED, "payment_expired"),
        Move("refund", frozenset({PAID}), REFUNDED, "payment_refunded"),
    )
}
REQUESTED_ACTION = "payment_requested"
# Steps of a refund that change no state of the request.
REFUND_DONE_ACTION = "payment_refund_done"
REFUND_FAILED_ACTION = "payment_refund_failed"

# How the control slip and the timeline name these steps.
STEP_LABELS = {
    REQUESTED_ACTION: "Yêu cầu nộp phí, lệ phí / Fee requested",
    "payment_failed": "Thanh toán không thành công / Payment failed",
    "payment_paid": "Nộp phí, lệ phí / Fee paid",
    "payment_expired": "Hết hạn nộp phí / Fee request expired",
    "payment_refunded": "Hoàn phí, lệ phí / Fee refunded",
    REFUND_DONE_ACTION: "Đã hoàn tiền / Refund made",
    REFUND_FAILED_ACTION: "Hoàn tiền không thành công / Refund failed",
}
