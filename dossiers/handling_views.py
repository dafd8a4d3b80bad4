"""Pages of the steps after submission (issue #15): the assign, result and
supplement forms of the dossier page. Parse the form, call one service, render or redirect, as
`views` does."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gisportal.accounts.selectors import user_display_name
from gisportal.api import message

from .attachments import attachments_check
from .errors import DossierInputError, DossierInputRefused, TransitionNotAllowed
from .handling_services import dossier_assign_officer, dossier_result_attach, dossier_supplement_with_files
from .models import Dossier
from .views import _render_dossier, _visible_or_404


@login_required
@require_POST
def dossier_assign_page(request, code: str):
    officer = request.POST.get("officer", "")
    note = request.POST.get("note", "")
    posted = {"action": "assign_officer", "officer": officer, "note": note}
    try:
        dossier = dossier_assign_officer(code=code, officer=officer, acting_user=request.user, note=note)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except TransitionNotAllowed as refused:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=409, refused=str(refused), posted=posted)
    except DossierInputError as problem:
        dossier = _visible_or_404(request.user, code)
        # A well-formed choice the rules refuse is a 422, as in the API.
        status = 422 if isinstance(problem, DossierInputRefused) else 400
        return _render_dossier(request, dossier, status=status, errors=problem.errors, posted=posted)
    messages.success(
        request,
        _("%(code)s is now assigned to %(name)s.")
        % {"code": dossier.code, "name": user_display_name(dossier.assigned_to)},
    )
    return redirect("dossier-page", code=dossier.code)


@login_required
@require_POST
def dossier_result_page(request, code: str):
    """A processing officer attaches the result PDF."""
    files = request.FILES.getlist("file")
    try:
        checked, problems = attachments_check(files, max_count=1, types=frozenset({"application/pdf"}), described="PDF")
        if problems or len(files) != 1:
            raise DossierInputError(
                {"file": problems or [message("Cần đúng một tệp PDF.", "Exactly one PDF file is required.")]}
            )
        dossier_result_attach(code=code, document=checked[0], acting_user=request.user)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except TransitionNotAllowed as refused:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=409, refused=str(refused))
    except DossierInputError as problem:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=400, errors=problem.errors)
    messages.success(request, _("The result document has been attached."))
    return redirect("dossier-page", code=code)


@login_required
@require_POST
def dossier_supplement_page(request, code: str):
    """The applicant (or the desk) hands in the supplement with its files."""
    note = request.POST.get("note", "")
    posted = {"supplement_note": note}
    try:
        checked, problems = attachments_check(request.FILES.getlist("attachments"))
        if problems:
            raise DossierInputError({"attachments": problems})
        dossier_supplement_with_files(code=code, files=checked, acting_user=request.user, note=note)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except TransitionNotAllowed as refused:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=409, refused=str(refused), posted=posted)
    except DossierInputError as problem:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=400, errors=problem.errors, posted=posted)
    messages.success(request, _("The supplement has been sent."))
    return redirect("dossier-page", code=code)
