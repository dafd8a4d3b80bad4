"""Citizen self-registration, and a signed-in user's API tokens. Officials'
accounts are made by an administrator; citizens make their own and are
signed in at once."""

import hashlib
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView, redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from gisportal.clientip import client_ip
from gisportal.throttling import window_hit

from .forms import CitizenRegistrationForm
from .phone import PhoneInvalid, phone_mask, phone_normalize
from .selectors import actor_for, api_tokens_of, sandbox_sms_for
from .services import api_token_revoke, api_tokens_revoke_all, citizen_register
from .sms import sms_sandbox_active

audit = logging.getLogger("gisportal.audit")


def _masked(id_number: str) -> str:
    # As dossiers show it to other roles: only the last four digits.
    return "*" * (len(id_number) - 4) + id_number[-4:]


def safe_next(request) -> str:
    """The page a visitor was on their way to (`next`, in the POST body or the
    query), if it is a path of this site; "" otherwise (an open redirect
    otherwise: `next=https://evil.example/`)."""
    target = (request.POST.get("next") or request.GET.get("next") or "").strip()
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@sensitive_post_parameters("password1", "password2", "id_number")
def register(request):
    """The ID number travels in the POST body only, never in the redirect.
    A `next` of this site (e.g. the procedure's submit form the visitor was
    sent to sign in for) is kept through the form and followed afterwards."""
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "my-dossiers")
    form = CitizenRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = citizen_register(
                username=data["username"],
                password=data["password1"],
                full_name=data["full_name"],
                email=data["email"],
                phone=data.get("phone") or "",
                id_number=data["id_number"],
            )
        except ValidationError as problems:
            for field, errors in problems.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Your account is ready. Citizen ID number on file: %(masked)s.")
                % {"masked": _masked(data["id_number"])},
            )
            return redirect(next_url or reverse("my-dossiers"))
    status = 400 if request.method == "POST" else 200
    return render(request, "registration/register.html", {"form": form, "next": next_url}, status=status)


@login_required
def token_list(request):
    """The user's API tokens (made by `POST /api/v1/auth/token/`), each with
    a button that revokes it, and one that revokes them all."""
    return render(request, "registration/tokens.html", {"tokens": list(api_tokens_of(user=request.user))})


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if not api_token_revoke(user=request.user, token_id=token_id):
        raise Http404  # someone else's token looks like a missing one
    messages.success(request, _("The token was revoked: programs using it are signed out."))
    return redirect("tokens")


@login_required
@require_POST
def tokens_revoke_all(request):
    count = api_tokens_revoke_all(user=request.user)
    messages.success(
        request, ngettext("%(count)s token revoked.", "%(count)s tokens revoked.", count) % {"count": count}
    )
    return redirect("tokens")


SANDBOX_SMS_SHOWN = 20


def sms_sandbox(request):
    """The SMS sandbox's inbox for one phone (`?phone=`): the last messages it
    would have received, codes included, for developers and integrators
    trying the portal without a real gateway. A 404 unless the sandbox is the
    SMS backend; with DEBUG off, administrators only (a staging portal on the
    sandbox must not show codes to everyone)."""
    if not sms_sandbox_active():
        raise Http404
    if not settings.DEBUG and not actor_for(request.user).is_administrator:
        return redirect_to_login(request.get_full_path())
    raw = (request.GET.get("phone") or "").strip()
    phone, problem, rows = "", "", []
    if raw:
        try:
            phone = phone_normalize(raw)
        except PhoneInvalid as invalid:
            problem = str(invalid)
        else:
            rows = sandbox_sms_for(phone=phone, limit=SANDBOX_SMS_SHOWN)
    context = {"raw": raw, "phone": phone, "masked": phone_mask(phone) if phone else "", "problem": problem}
    response = render(request, "registration/sms_sandbox.html", {**context, "messages_": rows})
    response["Cache-Control"] = "private, no-store"
    return response


class LimitedPasswordResetView(PasswordResetView):
    """Django's password reset, limited: a client asking more often than
    PASSWORD_RESET_CLIENT_RATE gets 429 and the form again; an address asked
    for more often than PASSWORD_RESET_ADDRESS_RATE gets no further e-mail,
    while the visitor sees the usual "sent" page (no enumeration)."""

    def post(self, request, *args, **kwargs):
        retry_after = window_hit("password-reset-client", client_ip(request) or "", settings.PASSWORD_RESET_CLIENT_RATE)
        if retry_after is None:
            return super().post(request, *args, **kwargs)
        audit.warning("password reset refused: too many requests client=%s", client_ip(request))
        form = self.get_form()
        form.add_error(
            None,
            _("Too many requests from this device. Try again in %(minutes)d minutes.")
            % {"minutes": max(1, retry_after // 60)},
        )
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(retry_after)
        return response

    def form_valid(self, form):
        address = hashlib.sha256(form.cleaned_data["email"].strip().lower().encode()).hexdigest()
        if window_hit("password-reset-address", address, settings.PASSWORD_RESET_ADDRESS_RATE) is not None:
            audit.warning("password reset e-mail skipped: too many for one address client=%s", client_ip(self.request))
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
