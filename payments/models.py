"""Fees of dossiers: what is owed (PaymentRequest and its FeeLines), how it
was paid (Payment, with its e-receipt), what the gateway and the bank said
(GatewayTransaction, BankStatementLine), refunds, and the sandbox gateway's
own rows. States change only in `payments.services`, which applies the
table of `payments.states` and writes an event on the dossier for each."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from gisportal.outbox import OutboxJob


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Chờ thanh toán / Pending"
    PAID = "paid", "Đã thanh toán / Paid"
    FAILED = "failed", "Thanh toán không thành công / Failed"
    EXPIRED = "expired", "Hết hạn / Expired"
    REFUNDED = "refunded", "Đã hoàn phí / Refunded"


# A request that may still be paid: pending, or whose last attempt failed.
OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.FAILED)


class Method(models.TextChoices):
    VNPAY = "vnpay", "Trực tuyến qua VNPay / Online (VNPay)"
    BANK_TRANSFER = "bank_transfer", "Chuyển khoản (VietQR) / Bank transfer (VietQR)"
    CASH = "cash", "Tiền mặt / Cash"
    POS = "pos", "Thẻ qua máy POS / Card (POS)"


# Paid without coming to a desk: the Decision 766 online payment rate counts these.
ONLINE_METHODS = (Method.VNPAY, Method.BANK_TRANSFER)
COUNTER_METHODS = (Method.CASH, Method.POS)


class PaymentRequest(models.Model):
    """What a dossier owes: one per dossier while open (a partial unique
    index), made when a fee-bearing dossier is received."""

    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.CASCADE, related_name="payment_requests")
    reference = models.CharField(
        max_length=20, unique=True, help_text="LP + 10 digits + 2 check digits (ISO 7064 mod 97-10)."
    )
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    amount_vnd = models.PositiveBigIntegerField(help_text="Sum of the fee lines.")
    payer_name = models.CharField(max_length=150)
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="Closing time of the last working day to pay.")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Paid, expired or refunded at.")
    is_demo = models.BooleanField(default=False)

    class Meta:
        verbose_name = gettext_lazy("payment request")
        verbose_name_plural = gettext_lazy("payment requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dossier"],
                condition=Q(status__in=["pending", "failed"]),
                name="paymentrequest_one_open_per_dossier",
            ),
            models.CheckConstraint(condition=Q(amount_vnd__gt=0), name="paymentrequest_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["dossier", "-created_at"], name="paymentrequest_dossier"),
            models.Index(fields=["created_at"], name="paymentrequest_created"),
            models.Index(
                fields=["due_at"], name="paymentrequest_open_due", condition=Q(status__in=["pending", "failed"])
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class FeeLine(models.Model):
    """One fee or charge of a request (the catalogue has one per procedure
    today; a procedure with a fee and a charge gets two lines)."""

    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=1)
    label = models.CharField(max_length=300)
    amount_vnd = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="feeline_request_position"),
            models.CheckConstraint(condition=Q(amount_vnd__gt=0), name="feeline_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.amount_vnd}"


class OnlineOrder(models.Model):
    """One attempt to pay a request through the gateway: its own vnp_TxnRef
    (VNPay refuses a reference used twice), amount and validity."""

    class Status(models.TextChoices):
        OPEN = "open", "Đang chờ / Open"
        PAID = "paid", "Đã thanh toán / Paid"
        FAILED = "failed", "Không thành công / Failed"
        LATE = "late", "Thanh toán sau hạn / Paid after it expired"
        SUPERSEDED = "superseded", "Yêu cầu đã được thanh toán cách khác / Request paid otherwise"

    request = models.ForeignKey(PaymentRequest, on_delete=models.CASCADE, related_name="orders")
    txn_ref = models.CharField(max_length=40, unique=True)
    amount_vnd = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    ip_address = models.CharField(max_length=45)
    response_code = models.CharField(max_length=4, blank=True)
    transaction_no = models.CharField(max_length=30, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("online order")
        verbose_name_plural = gettext_lazy("online orders")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.txn_ref


class GatewayTransaction(models.Model):
    """Every message the gateway sent or answered, kept as received, for
    reconciliation: IPNs (with the answer given), browser returns, refund
    answers."""

    class Kind(models.TextChoices):
        IPN = "ipn", "IPN"
        RETURN = "return", "Trở về / Return"
        REFUND = "refund", "Hoàn tiền / Refund"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    received_at = models.DateTimeField()
    params = models.JSONField(help_text="The query or body as received.")
    signature_valid = models.BooleanField()
    txn_ref = models.CharField(max_length=100, blank=True)
    order = models.ForeignKey(
        OnlineOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    amount_vnd = models.BigIntegerField(null=True, blank=True)
    response_code = models.CharField(max_length=4, blank=True)
    transaction_status = models.CharField(max_length=4, blank=True)
    transaction_no = models.CharField(max_length=30, blank=True)
    bank_code = models.CharField(max_length=20, blank=True)
    pay_date = models.DateTimeField(null=True, blank=True)
    answer_code = models.CharField(max_length=2, blank=True, help_text="Our RspCode to an IPN.")
    client_ip = models.CharField(max_length=45, blank=True)

    class Meta:
        verbose_name = gettext_lazy("gateway transaction")
        verbose_name_plural = gettext_lazy("gateway transactions")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["received_at"], name="gatewaytxn_received"),
            models.Index(fields=["txn_ref"], name="gatewaytxn_txn_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.txn_ref} {self.response_code}"

    @property
    def succeeded(self) -> bool:
        return self.signature_valid and self.response_code == "00" and self.transaction_status == "00"


class BankStatementLine(models.Model):
    """A credit on the fee account's statement, recorded by an official and
    matched to a request by the reference in its memo."""

    class Status(models.TextChoices):
        MATCHED = "matched", "Đã khớp / Matched"
        UNMATCHED = "unmatched", "Không tìm thấy yêu cầu / No request found"
        MISMATCH = "mismatch", "Sai số tiền / Wrong amount"
        NOT_PAYABLE = "not_payable", "Yêu cầu không còn nhận thanh toán / Request not payable"

    bank_reference = models.CharField(max_length=60, help_text="The bank's transaction number.")
    value_date = models.DateField()
    amount_vnd = models.BigIntegerField()
    memo = models.CharField(max_length=300, blank=True)
    reference = models.CharField(max_length=20, blank=True, help_text="Payment reference found in the memo.")
    request = models.ForeignKey(
        PaymentRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="bank_lines"
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField()
    service_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_demo = models.BooleanField(default=False)

    class Meta:
        verbose_name = gettext_lazy("bank statement line")
        verbose_name_plural = gettext_lazy("bank statement lines")
        ordering = ["-value_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["bank_reference"], name="bankline_bank_reference")]
        indexes = [models.Index(fields=["value_date"], name="bankline_value_date")]

    def __str__(self) -> str:
        return f"{self.bank_reference} {self.amount_vnd}"


class Payment(models.Model):
    """The money received for a request, once: the one-to-one key is the
    last guard of exactly-once settlement. Its e-receipt (biên lai điện tử)
    is numbered when it is written."""

    request = models.OneToOneField(PaymentRequest, on_delete=models.CASCADE, related_name="payment")
    method = models.CharField(max_length=14, choices=Method.choices)
    amount_vnd = models.PositiveBigIntegerField()
    paid_at = models.DateTimeField()
    external_reference = models.CharField(
        max_length=60, blank=True, help_text="Gateway transaction number, bank transaction or POS slip number."
    )
    order = models.ForeignKey(OnlineOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    gateway_transaction = models.ForeignKey(
        GatewayTransaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bank_line = models.OneToOneField(
        BankStatementLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="payment"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by_name = models.CharField(max_length=150, help_text="Issuer of the receipt, as it was then.")
    service_point = models.ForeignKey(
        "layers.ServicePoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receipt_number = models.CharField(max_length=30, unique=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        verbose_name = gettext_lazy("payment")
        verbose_name_plural = gettext_lazy("payments")
        ordering = ["-paid_at", "-id"]
        indexes = [models.Index(fields=["paid_at"], name="payment_paid_at")]

    def __str__(self) -> str:
        return self.receipt_number

    @property
    def is_online(self) -> bool:
        return self.method in ONLINE_METHODS


class ReceiptCounter(models.Model):
    """Last receipt number issued per year; one UPSERT per receipt, so
    numbers are consecutive (a rolled-back payment gives its number back)."""

    year = models.PositiveSmallIntegerField(unique=True)
    last = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Refund(OutboxJob):
    """Money going back for a paid request of a dossier refused or withdrawn
    before processing. Online payments: a job calling the gateway's refund
    API through the outbox, retried while the gateway is down. Desk
    payments: marked to be paid back in cash at the desk."""

    outbox_task = "payments.tasks.refund_run_task"
    outbox_gave_up_note = ("Cần hoàn tiền thủ công.", "The refund must be made by hand.")

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ gửi / Queued"
        RUNNING = "running", "Đang gửi / Running"
        SUCCEEDED = "succeeded", "Đã hoàn / Refunded"
        FAILED = "failed", "Không hoàn được / Failed"
        AT_DESK = "at_desk", "Hoàn tiền mặt tại bộ phận một cửa / To be paid back at the desk"

    payment = models.OneToOneField(Payment, on_delete=models.CASCADE, related_name="refund")
    amount_vnd = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    response_code = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("refund")
        verbose_name_plural = gettext_lazy("refunds")
        ordering = ["-created_at"]


class PaymentCount(models.Model):
    """Fees paid per day (of payment), dimension and key, kept up to date in
    the transaction that settles a request (`payments.counts`), so the
    Decision 766 dashboard sums a few rows instead of counting payments.
    Dimensions and keys are those of `dossiers.DailyStat`."""

    day = models.DateField()
    dimension = models.CharField(max_length=14)
    key = models.BigIntegerField()
    paid = models.IntegerField(default=0)
    paid_online = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dimension", "day", "key"], include=["paid", "paid_online"], name="paymentcount_key"
            )
        ]

    # --- the sandbox gateway's own rows (payments/sandbox.py) ------------------------------

    def __str__(self) -> str:
        return f"{self.day} {self.dimension} {self.key}"


class SandboxTransaction(models.Model):
    """A payment the sandbox gateway was asked to collect."""

    class Status(models.TextChoices):
        PENDING = "pending", "Chờ người mua / Waiting for the buyer"
        SUCCEEDED = "succeeded", "Thành công / Succeeded"
        CANCELLED = "cancelled", "Đã hủy / Cancelled"
        FAILED = "failed", "Không thành công / Failed"
        REFUNDED = "refunded", "Đã hoàn / Refunded"

    tmn_code = models.CharField(max_length=20)
    txn_ref = models.CharField(max_length=100)
    transaction_no = models.CharField(max_length=20, unique=True)
    amount_vnd = models.BigIntegerField()
    order_info = models.CharField(max_length=255)
    return_url = models.URLField(max_length=1000)
    ipn_url = models.URLField(max_length=1000)
    locale = models.CharField(max_length=2, default="vn")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    response_code = models.CharField(max_length=2, blank=True)
    bank_code = models.CharField(max_length=20, blank=True)
    pay_date = models.DateTimeField(null=True, blank=True)
    refunded_vnd = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = gettext_lazy("sandbox transaction")
        verbose_name_plural = gettext_lazy("sandbox transactions")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tmn_code", "txn_ref"], name="sandboxtxn_merchant_ref")]

    def __str__(self) -> str:
        return f"{self.tmn_code} {self.txn_ref}"


class SandboxIpn(OutboxJob):
    """One IPN the sandbox sends for a finished transaction (a copy may be a
    deliberate duplicate), retried until the merchant answers 00 or 02."""

    outbox_task = "payments.tasks.sandbox_ipn_deliver_task"

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ gửi / Queued"
        RUNNING = "running", "Đang gửi / Running"
        DELIVERED = "delivered", "Đã gửi / Delivered"
        FAILED = "failed", "Không gửi được / Failed"

    transaction = models.ForeignKey(SandboxTransaction, on_delete=models.CASCADE, related_name="ipn_deliveries")
    copy = models.PositiveSmallIntegerField(help_text="1 for the IPN, 2.. for the duplicates.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    last_answer = models.CharField(max_length=300, blank=True)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("sandbox IPN")
        verbose_name_plural = gettext_lazy("sandbox IPNs")
        ordering = ["transaction", "copy"]
