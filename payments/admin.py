"""Payments in the admin: read-only records (every change goes through the
services and leaves an event on the dossier), and one action: send a failed
gateway refund again."""

from django.contrib import admin, messages

from layers.admin import ReadOnlyAdmin

from .errors import PaymentConflict
from .models import (
    BankStatementLine,
    GatewayTransaction,
    OnlineOrder,
    Payment,
    PaymentRequest,
    Refund,
    SandboxIpn,
    SandboxTransaction,
)


@admin.register(PaymentRequest)
class PaymentRequestAdmin(ReadOnlyAdmin):
    list_display = ("reference", "dossier", "status", "amount_vnd", "payer_name", "created_at", "due_at")
    list_filter = ("status",)
    search_fields = ("reference", "dossier__code", "payer_name")
    raw_id_fields = ("dossier", "payer")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("receipt_number", "request", "method", "amount_vnd", "paid_at", "recorded_by_name")
    list_filter = ("method",)
    search_fields = ("receipt_number", "request__reference", "external_reference")
    raw_id_fields = ("request", "order", "gateway_transaction", "bank_line", "recorded_by")


@admin.register(OnlineOrder)
class OnlineOrderAdmin(ReadOnlyAdmin):
    list_display = ("txn_ref", "request", "status", "amount_vnd", "created_at", "response_code")
    list_filter = ("status",)
    search_fields = ("txn_ref",)
    raw_id_fields = ("request", "created_by")


@admin.register(GatewayTransaction)
class GatewayTransactionAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "kind", "txn_ref", "signature_valid", "response_code", "answer_code", "amount_vnd")
    list_filter = ("kind", "signature_valid", "answer_code")
    search_fields = ("txn_ref", "transaction_no")
    raw_id_fields = ("order",)


@admin.register(BankStatementLine)
class BankStatementLineAdmin(ReadOnlyAdmin):
    list_display = ("value_date", "bank_reference", "amount_vnd", "reference", "status")
    list_filter = ("status",)
    search_fields = ("bank_reference", "reference", "memo")
    raw_id_fields = ("request", "recorded_by")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("payment", "status", "amount_vnd", "attempts", "created_at", "finished_at")
    list_filter = ("status",)
    raw_id_fields = ("payment",)
    actions = ["send_again"]

    @admin.action(description="Gửi lại lệnh hoàn tiền / Send the refund again")
    def send_again(self, request, queryset):
        # Imported here, not with the admin: Django loads every admin module at each
        # process start (a command, a worker), before any page is asked for.
        from .services import refund_retry

        for refund in queryset:
            try:
                refund_retry(refund_id=refund.pk)
            except PaymentConflict as conflict:
                self.message_user(request, f"{refund.pk}: {conflict}", messages.WARNING)


@admin.register(SandboxTransaction)
class SandboxTransactionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "tmn_code", "txn_ref", "transaction_no", "status", "response_code", "amount_vnd")
    list_filter = ("status",)


@admin.register(SandboxIpn)
class SandboxIpnAdmin(ReadOnlyAdmin):
    list_display = ("transaction", "copy", "status", "attempts", "queued_at", "last_answer")
    list_filter = ("status",)
