"""Sign-in lockout rules, on top of django-axes.

Failed sign-ins (the login page and `POST /api/v1/auth/token/` both go
through `django.contrib.auth.authenticate`, so axes sees both) are counted
twice, within the cool-off (`AXES_COOLOFF_TIME`) since the last failure:

- per account, from any client: `AXES_FAILURE_LIMIT` (SIGNIN_ACCOUNT_FAILURE_LIMIT);
- per client address (`gisportal.clientip.client_ip`), to any account:
  `SIGNIN_CLIENT_FAILURE_LIMIT`, higher, since one office or one mobile
  carrier's NAT puts many people behind one address.

Reaching either limit refuses every sign-in it covers, the right password
included, with 429 and the bilingual message below. A refused attempt counts
as a failure too (axes' default), so a client that keeps guessing stays
locked. Success resets nothing (`AXES_RESET_ON_SUCCESS` would also delete the
client's failures, letting one good account wipe the count of guesses at
another). Every failure is an `axes.AccessFailureLog` row: who (username),
from where (address, user agent), what (path), when, and whether it was
locked out.
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from gisportal.api import message


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class PortalLockoutHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per account and a higher one per
    client (axes itself applies one limit to every parameter)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures as axes compares them with `AXES_FAILURE_LIMIT` (the
        account limit): the account's own count, or the client's count moved
        onto the same scale, whichever is nearer its limit."""
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        username = get_client_username(request, credentials)
        by_account = _failures(recent.filter(username=username)) if username else 0
        by_client = _failures(recent.filter(ip_address=request.axes_ip_address)) if request.axes_ip_address else 0
        return max(by_account, by_client - settings.SIGNIN_CLIENT_FAILURE_LIMIT + settings.AXES_FAILURE_LIMIT)


def cooloff_seconds() -> int:
    return int(get_cool_off().total_seconds())


def lockout_message() -> str:
    minutes = math.ceil(cooloff_seconds() / 60)
    return message(
        f"Đăng nhập tạm bị khóa vì nhập sai quá nhiều lần cho tài khoản này hoặc từ địa chỉ này. "
        f"Vui lòng thử lại sau {minutes} phút.",
        f"Sign-in is locked after too many failed attempts for this account or from this address. "
        f"Try again in {minutes} minutes.",
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """What a locked-out sign-in gets (`AXES_LOCKOUT_CALLABLE`; axes'
    middleware puts it in place of the view's answer): 429 with Retry-After,
    as JSON `{"detail": "vi / en"}` where the view answered JSON (the API),
    else the sign-in page in the visitor's language."""
    if original_response is not None and original_response.get("Content-Type", "").startswith("application/json"):
        response: HttpResponse = JsonResponse({"detail": lockout_message()}, status=429)
    else:
        username = get_client_username(request, credentials) or ""
        context = {
            "form": AuthenticationForm(request, initial={"username": username}),
            "locked_out": True,
            "cooloff_minutes": math.ceil(cooloff_seconds() / 60),
            "next": request.POST.get("next") or request.GET.get("next") or "",
        }
        response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(cooloff_seconds())
    return response
