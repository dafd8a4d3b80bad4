"""Payment API: a dossier's fee (with how to pay), starting an online
payment, desk payments, receipts and payment slips, the gateway's IPN, bank
statement lines and the reconciliation report. Views parse input, call one
service or selector and shape the answer."""

import contextlib
import csv
import datetime as dt
import io
import logging
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from openpyxl import Workbook
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dossiers.apis import DossierApiView
from dossiers.selectors import dossier_get_for_user
from gisportal.accounts.selectors import actor_for
from gisportal.api import (
    IsOfficial,
    OfficialApiView,
    QueryParams,
    date_parameter,
    integer_parameter,
    message,
    paged,
)
from gisportal.clientip import client_ip
from gisportal.downloads import download_response
from gisportal.spreadsheets import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, csv_bytes, xlsx_row
from gisportal.unstorable import MultiPartParser

from . import reconciliation
from .errors import PaymentConflict, PaymentForbidden, PaymentInputError
from .models import BankStatementLine, Payment, PaymentRequest
from .receipts import payment_slip_pdf, receipt_pdf
from .selectors import bank_lines_visible_to, receipt_get_for_user
from .serializers import dossier_payment, payment_json
from .services import (
    BankLineInput,
    OnlineStart,
    bank_lines_record,
    online_payment_start,
    payment_record_counter,
    vnpay_ipn_handle,
)

audit = logging.getLogger("gisportal.audit")

MAX_PAGE = 500
MAX_OFFSET = 10_000_000
CSV_MAX_BYTES = 2 * 1024 * 1024
CSV_MAX_LINES = 5_000


def payment_error_response(exc) -> Response | None:
    """The answer to a payment domain error, or None for any other exception."""
    if isinstance(exc, PaymentInputError):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PaymentForbidden):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, PaymentConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, (Payment.DoesNotExist, PaymentRequest.DoesNotExist)):
        return Response({"detail": message("Không tìm thấy.", "Not found.")}, status=status.HTTP_404_NOT_FOUND)
    return None


class PaymentApiView(DossierApiView):
    """Signed-in callers (token or session); the dossier's and the payments'
    domain errors become 400, 403, 404 and 409."""

    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc):
        return payment_error_response(exc) or super().handle_exception(exc)


def _body(request) -> Mapping:
    if not isinstance(request.data, Mapping):
        raise PaymentInputError.one("body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return request.data


def origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def online_payment_start_for(request, *, code: str, locale: str) -> OnlineStart:
    """`online_payment_start` for the caller of `request` (the API and the page)."""
    gateway, return_url = gateway_urls(request)
    return online_payment_start(
        code=code,
        acting_user=request.user,
        ip_address=client_ip(request),
        gateway_url=gateway,
        return_url=return_url,
        locale=locale,
    )


def gateway_urls(request) -> tuple[str, str]:
    """(payment URL of the gateway, our return URL): from the settings, or
    the portal's own sandbox and pages at the address this request came to."""
    base = settings.VNPAY_RETURN_URL_BASE.rstrip("/") or origin(request)
    gateway = settings.VNPAY_PAYMENT_URL or origin(request) + reverse("sandbox-vnpay-pay")
    return gateway, base + reverse("payment-vnpay-return")


class DossierPaymentApi(PaymentApiView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="A dossier's fee: requests, state, how to pay, receipts",
        operation_id="dossiers_payment",
    )
    def get(self, request, code: str):
        dossier = dossier_get_for_user(user=request.user, code=code)
        body = dossier_payment(dossier, actor=actor_for(request.user))
        if body is None:
            return Response(
                {"detail": message("Hồ sơ không phải nộp phí.", "This dossier has no fee.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(body)


class OnlinePaymentStartApi(PaymentApiView):
    """POST (no body needed; optional `locale` vn|en): a new online order and
    the signed gateway URL to send the applicant's browser to."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Start an online payment (VNPay protocol) of the dossier's open fee",
        operation_id="dossiers_payment_vnpay",
    )
    def post(self, request, code: str):
        data = request.data if isinstance(request.data, Mapping) else {}
        locale = data.get("locale") or "vn"
        if locale not in ("vn", "en"):
            raise PaymentInputError.one("locale", "Chọn vn hoặc en.", "Use vn or en.")
        started = online_payment_start_for(request, code=code, locale=locale)
        order = started.order
        return Response(
            {
                "payment_url": started.payment_url,
                "txn_ref": order.txn_ref,
                "amount_vnd": order.amount_vnd,
                "expires_at": order.expires_at.isoformat(),
            },
            status=status.HTTP_201_CREATED,
        )


def _integer(value, name: str) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or str(value).strip() not in (str(number), f"{number}.0"):
        raise PaymentInputError.one(name, "Phải là số nguyên (đồng).", "Must be a whole number of VND.")
    return number


def _text(data: Mapping, name: str, *, max_length: int, required: bool = False) -> str:
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise PaymentInputError.one(name, "Trường này là bắt buộc.", "This field is required.")
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise PaymentInputError.one(
            name, f"Chuỗi tối đa {max_length} ký tự.", f"A string of at most {max_length} characters."
        )
    return value


class CounterPaymentApi(PaymentApiView):
    """POST {"method": "cash"|"pos", "amount_vnd": 50000, "reference": "POS slip"}:
    a desk officer of the receiving desk records the payment; 201 with the
    payment and its receipt."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Record a cash or POS payment at the desk (issues the receipt)",
        operation_id="dossiers_payment_counter",
    )
    def post(self, request, code: str):
        data = _body(request)
        dossier = dossier_get_for_user(user=request.user, code=code)
        method = _text(data, "method", max_length=10, required=True)
        if data.get("amount_vnd") in (None, ""):
            raise PaymentInputError.one("amount_vnd", "Trường này là bắt buộc.", "This field is required.")
        amount = _integer(data.get("amount_vnd"), "amount_vnd")
        reference = _text(data, "reference", max_length=60)
        payment = payment_record_counter(
            dossier_id=dossier.pk, method=method, amount_vnd=amount, acting_user=request.user, reference=reference
        )
        audit.info("counter payment code=%s receipt=%s user=%s", code, payment.receipt_number, request.user.pk)
        return Response({"dossier": code, **payment_json(payment)}, status=status.HTTP_201_CREATED)


class _PdfApiView(PaymentApiView):
    def perform_content_negotiation(self, request, force=False):
        # A PDF on success (a plain HttpResponse); every error is JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type


class PaymentSlipApi(_PdfApiView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 409: OpenApiTypes.OBJECT},
        summary="Payment slip (PDF) of the dossier's open fee, with its VietQR transfer code",
        operation_id="dossiers_payment_slip",
    )
    def get(self, request, code: str):
        dossier = dossier_get_for_user(user=request.user, code=code)
        payment_request = (
            PaymentRequest.objects.select_related("dossier__procedure", "dossier__receiving_point__admin_unit")
            .filter(dossier=dossier, status__in=["pending", "failed"])
            .first()
        )
        if payment_request is None:
            raise PaymentConflict(
                "Hồ sơ không có khoản phí nào đang chờ nộp.", "The dossier has no fee waiting to be paid."
            )
        return download_response(
            payment_slip_pdf(payment_request),
            filename=f"{payment_request.reference}-giay-bao-nop-phi.pdf",
            content_type="application/pdf",
            inline=True,
            private=True,
        )


class ReceiptApi(_PdfApiView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        summary="An e-receipt (biên lai điện tử) as PDF, for whoever may see its dossier",
        operation_id="payments_receipt",
    )
    def get(self, request, number: str):
        payment = receipt_get_for_user(user=request.user, number=number)
        audit.info("receipt downloaded number=%s user=%s", number, request.user.pk)
        return download_response(
            receipt_pdf(payment), filename=f"bien-lai-{number}.pdf", content_type="application/pdf", private=True
        )


class VnpayIpnApi(APIView):
    """GET from the gateway (server to server), the `vnp_*` query signed.
    Always 200 with {"RspCode", "Message"} as the VNPay 2.1.0 protocol says:
    00 recorded, 01 order not found, 02 already confirmed, 04 wrong amount,
    97 bad checksum, 99 other."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("vnp_TxnRef", str),
            OpenApiParameter("vnp_Amount", str, description="VND × 100"),
            OpenApiParameter("vnp_ResponseCode", str),
            OpenApiParameter("vnp_TransactionStatus", str),
            OpenApiParameter("vnp_SecureHash", str),
        ],
        responses={
            200: {
                "type": "object",
                "properties": {"RspCode": {"type": "string"}, "Message": {"type": "string"}},
                "required": ["RspCode", "Message"],
            }
        },
        summary="VNPay IPN: the gateway's signed report of a payment",
        operation_id="payments_vnpay_ipn",
    )
    def get(self, request):
        answer = vnpay_ipn_handle(params=dict(request.query_params.items()), client_ip=client_ip(request))
        return Response(answer)


# --- bank statement lines -------------------------------------------------------------------


def _line_json(line: BankStatementLine) -> dict:
    return {
        "id": line.pk,
        "bank_reference": line.bank_reference,
        "value_date": line.value_date.isoformat(),
        "amount_vnd": line.amount_vnd,
        "memo": line.memo,
        "reference": line.reference or None,
        "status": line.status,
        "status_label": line.get_status_display(),
        "dossier": line.request.dossier.code if line.request else None,
        "recorded_at": line.recorded_at.isoformat(),
    }


def _date(value, name: str) -> dt.date:
    text = value.strip() if isinstance(value, str) else ""
    day = None
    with contextlib.suppress(ValueError):
        day = parse_date(text)
    if day is None and len(text) == 10 and text[2] == "/" and text[5] == "/":
        with contextlib.suppress(ValueError):
            day = dt.date(int(text[6:]), int(text[3:5]), int(text[:2]))
    if day is None:
        raise PaymentInputError.one(
            name, "Ngày dạng YYYY-MM-DD hoặc DD/MM/YYYY.", "A date as YYYY-MM-DD or DD/MM/YYYY."
        )
    return day


def bank_line_input(data: Mapping, *, prefix: str = "") -> BankLineInput:
    """One line from a JSON object or a CSV row; PaymentInputError naming the field."""

    def named(field: str) -> str:
        return f"{prefix}{field}"

    try:
        amount_raw = data.get("amount_vnd")
        if amount_raw in (None, ""):
            raise PaymentInputError.one("amount_vnd", "Trường này là bắt buộc.", "This field is required.")
        if isinstance(amount_raw, str):
            amount_raw = amount_raw.replace(".", "").replace(",", "").strip()
        return BankLineInput(
            bank_reference=_text(data, "bank_reference", max_length=60, required=True),
            value_date=_date(data.get("value_date"), "value_date"),
            amount_vnd=_integer(amount_raw, "amount_vnd"),
            memo=_text(data, "memo", max_length=300),
            reference=_text(data, "reference", max_length=20),
        )
    except PaymentInputError as bad:
        raise PaymentInputError({named(k): v for k, v in bad.errors.items()}) from bad


class BankLinesApi(PaymentApiView):
    """GET: recorded lines (administrators: all; desk officers: their
    point's), `?status=`. POST one line {"bank_reference", "value_date",
    "amount_vnd", "memo", "reference"?}: matched by reference (201)."""

    parser_classes = [JSONParser, FormParser]
    permission_classes = [IsOfficial]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=BankStatementLine.Status.values),
            integer_parameter("limit", low=1, high=MAX_PAGE, default=100),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Bank statement lines recorded",
        operation_id="payments_bank_lines",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        status_filter = params.choice("status", BankStatementLine.Status.values)
        limit = params.integer("limit", default=100, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        lines = bank_lines_visible_to(actor_for(request.user))
        if status_filter:
            lines = lines.filter(status=status_filter)
        return Response(paged(request, lines, offset=offset, limit=limit, serialize=_line_json))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
        summary="Record one bank statement line (matched by payment reference)",
        operation_id="payments_bank_lines_record",
    )
    def post(self, request):
        line = bank_line_input(_body(request))
        (recorded,) = bank_lines_record(lines=[line], acting_user=request.user)
        return Response(_line_json(recorded), status=status.HTTP_201_CREATED)


CSV_COLUMNS = ("bank_reference", "value_date", "amount_vnd", "memo")


def bank_lines_from_csv(raw: bytes) -> list[BankLineInput]:
    """A statement as CSV (UTF-8, with or without BOM; comma or semicolon):
    header with bank_reference, value_date, amount_vnd, memo (and optionally
    reference). All lines or none: PaymentInputError naming line and column."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise PaymentInputError.one("file", "Tệp CSV phải mã hóa UTF-8.", "The CSV file must be UTF-8.") from bad
    first = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise PaymentInputError.one(
            "file", f"Thiếu cột: {', '.join(missing)}.", f"Missing columns: {', '.join(missing)}."
        )
    lines, errors = [], {}
    for number, row in enumerate(reader, start=2):
        if number - 1 > CSV_MAX_LINES:
            raise PaymentInputError.one("file", f"Tối đa {CSV_MAX_LINES} dòng.", f"At most {CSV_MAX_LINES} lines.")
        row = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        try:
            lines.append(bank_line_input(row, prefix=f"line {number}: "))
        except PaymentInputError as bad:
            errors.update(bad.errors)
    if errors:
        raise PaymentInputError(errors)
    if not lines:
        raise PaymentInputError.one("file", "Tệp không có dòng nào.", "The file has no lines.")
    return lines


class BankLinesImportApi(PaymentApiView):
    """POST multipart `file`: a bank statement CSV; every line recorded and
    matched, or none (400 naming the line and column)."""

    parser_classes = [MultiPartParser]
    permission_classes = [IsOfficial]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={201: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
        summary="Upload bank statement lines as CSV",
        operation_id="payments_bank_lines_import",
    )
    def post(self, request):
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is None:
            raise PaymentInputError.one("file", "Cần tệp CSV.", "A CSV file is required.")
        if upload.size > CSV_MAX_BYTES:
            raise PaymentInputError.one("file", "Tệp tối đa 2 MB.", "At most 2 MB.")
        lines = bank_lines_from_csv(upload.read())
        recorded = bank_lines_record(lines=lines, acting_user=request.user)
        counts: dict[str, int] = {}
        for line in recorded:
            counts[line.status] = counts.get(line.status, 0) + 1
        return Response(
            {"count": len(recorded), "by_status": counts, "results": [_line_json(line) for line in recorded]},
            status=status.HTTP_201_CREATED,
        )


# --- reconciliation -------------------------------------------------------------------------


def reconciliation_params(query) -> tuple[dt.date, dt.date, str]:
    params = QueryParams(query)
    today = timezone.localdate()
    date_from = params.date("from", default=None)
    date_to = params.date("to", default=None)
    fmt = params.choice("format", ["json", "csv", "xlsx"], default="json")
    params.raise_if_invalid()
    date_to = date_to or date_from or today
    date_from = date_from or date_to
    if date_from > date_to:
        params.fail("from", "Phải trước hoặc bằng 'to'.", "Must be on or before 'to'.")
    elif (date_to - date_from).days >= reconciliation.MAX_PERIOD_DAYS:
        params.fail("to", "Tối đa 366 ngày.", "At most 366 days.")
    params.raise_if_invalid()
    return date_from, date_to, fmt


def reconciliation_file(report: dict, fmt: str) -> HttpResponse:
    totals, differences = reconciliation.export_tables(report)
    name = f"doi-soat-{report['from']}-{report['to']}"
    if fmt == "csv":
        return download_response(
            csv_bytes([*totals, [], *differences]), filename=f"{name}.csv", content_type=CSV_CONTENT_TYPE
        )
    book = Workbook()
    sheet = book.active
    sheet.title = "Tong hop"
    for row in totals:
        sheet.append(xlsx_row(row))
    detail = book.create_sheet("Chenh lech")
    for row in differences:
        detail.append(xlsx_row(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return download_response(
        buffer.getvalue(),
        filename=f"{name}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )


class ReconciliationApi(OfficialApiView):
    @extend_schema(
        parameters=[
            date_parameter("from", description="First day (default: `to`, or today)"),
            date_parameter("to", description="Last day (default: `from`, or today); at most 366 days"),
            OpenApiParameter("format", str, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
        },
        summary="Reconciliation: requests, payments, gateway and bank, differences listed",
        operation_id="payments_reconciliation",
    )
    def get(self, request):
        date_from, date_to, fmt = reconciliation_params(request.query_params)
        report = reconciliation.reconciliation_report(
            actor=actor_for(request.user), date_from=date_from, date_to=date_to
        )
        if fmt != "json":
            return reconciliation_file(report, fmt)
        return Response(report)
