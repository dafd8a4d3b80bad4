"""VietQR (NAPAS 247) transfer codes: the EMVCo merchant-presented payload
that banking apps read to prefill a transfer to the fee account, with the
amount and the payment reference as the transfer's purpose.

Built with the `vietnam-qr-pay` package (MIT), checked against EMVCo QRCPS
v1.1 and NAPAS's VietQR guide: ID 00 "01", 01 "12" (dynamic, with an
amount), 38 the NAPAS template (00 GUID A000000727, 01 beneficiary: 00 bank
BIN, 01 account number; 02 service QRIBFTTA), 53 "704" (VND), 54 amount,
58 "VN", 62 additional data with 08 the purpose, 63 CRC16-CCITT (poly
0x1021, init 0xFFFF) over everything before it including "6304". The
package counts lengths in characters and does not stop a value over 99
characters: `vietqr_payload` only gives it ASCII values that fit, so
characters and bytes agree and every length has two digits."""

from dataclasses import dataclass

from django.conf import settings
from vietnam_qr_pay import QRPay

from .vnpay import plain_text

MAX_VALUE = 99


@dataclass(frozen=True)
class TransferCode:
    payload: str
    bank_bin: str
    account_number: str
    account_name: str
    amount_vnd: int
    purpose: str


def vietqr_purpose(reference: str, dossier_code: str) -> str:
    """The transfer memo: the payment reference first (what the bank
    statement is matched on), then the dossier code for people reading it."""
    return plain_text(f"{reference} HS {dossier_code}", limit=50)


def vietqr_payload(*, amount_vnd: int, purpose: str, bank_bin: str | None = None, account: str | None = None) -> str:
    bank_bin = bank_bin or settings.VIETQR_BANK_BIN
    account = account or settings.VIETQR_ACCOUNT_NUMBER
    values = {"bank_bin": bank_bin, "account": account, "purpose": purpose, "amount": str(amount_vnd)}
    for name, value in values.items():
        if not value.isascii() or not 0 < len(value) <= MAX_VALUE:
            raise ValueError(f"VietQR {name} must be 1-{MAX_VALUE} ASCII characters: {value!r}")
    if not (bank_bin.isdigit() and len(bank_bin) == 6 and account.isalnum() and amount_vnd > 0):
        raise ValueError("a 6-digit bank BIN, an alphanumeric account and a positive amount")
    return QRPay.init_viet_qr(bank_bin=bank_bin, bank_number=account, amount=str(amount_vnd), purpose=purpose).build()


def transfer_code(*, amount_vnd: int, reference: str, dossier_code: str) -> TransferCode:
    purpose = vietqr_purpose(reference, dossier_code)
    return TransferCode(
        payload=vietqr_payload(amount_vnd=amount_vnd, purpose=purpose),
        bank_bin=settings.VIETQR_BANK_BIN,
        account_number=settings.VIETQR_ACCOUNT_NUMBER,
        account_name=settings.VIETQR_ACCOUNT_NAME,
        amount_vnd=amount_vnd,
        purpose=purpose,
    )
