"""Citizen self-registration, and a signed-in user's API tokens. Officials'
accounts are made by an administrator; citizens make their own and are
signed in at once."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from .forms import CitizenRegistrationForm
from .selectors import api_tokens_of
from .services import api_token_revoke, api_tokens_revoke_all, citizen_register


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
