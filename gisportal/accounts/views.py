"""Citizen self-registration, and a signed-in user's API tokens. Officials'
accounts are made by an administrator; citizens make their own and are
signed in at once."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from .forms import CitizenRegistrationForm
from .phone import PhoneInvalid, phone_mask, phone_normalize
from .selectors import actor_for, api_tokens_of, sandbox_sms_for
from .services import api_token_revoke, api_tokens_revoke_all, citizen_register
from .sms import sms_sandbox_active


def _masked(id_number: str) -> str:
    # As dossiers show it to other roles: only the last four digits.
    return "*" * (len(id_number) - 4) + id_number[-4:]


@sensitive_post_parameters("password1", "password2", "id_number")
def register(request):
    """The ID number travels in the POST body only, never in the redirect."""
    if request.user.is_authenticated:
        return redirect("my-dossiers")
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
            return redirect(reverse("my-dossiers"))
    status = 400 if request.method == "POST" else 200
    return render(request, "registration/register.html", {"form": form}, status=status)


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
