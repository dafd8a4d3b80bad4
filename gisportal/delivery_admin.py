"""What the admin shows of a message to the outside world (gisportal.delivery):
its state, attempts, when it is due (again) and its last error, with an
action to send failed ones again. One mixin for every model built on it."""

from django.contrib import admin, messages

from .delivery import delivery_retry


class DeliveryAdminMixin:
    list_filter = ("status",)
    actions = ["send_again"]

    @admin.action(description="Gửi lại / Send again")
    def send_again(self, request, queryset):
        queued = delivery_retry(queryset.filter(status__in=["failed", "queued"]))
        self.message_user(
            request,
            f"Đã xếp {queued} tin vào hàng đợi gửi lại. / {queued} queued to be sent again.",
            messages.SUCCESS if queued else messages.WARNING,
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
