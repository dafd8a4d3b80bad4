"""Catalogue pages (search list and procedure detail) and the administrator's
CSV import page. The pages are server-rendered: they work without
JavaScript and on a phone."""

import mimetypes
import tempfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gisportal.accounts.models import Agency
from gisportal.downloads import download_response
from gisportal.spreadsheets import CSV_CONTENT_TYPE

from . import catalogue
from .models import AdministrativeLevel, OnlineLevel, Procedure, ProcedureForm, Sector

PAGE_SIZE = 20
MAX_QUERY_LENGTH = 200
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _half(label: str) -> str:
    """Choice labels read "Tiếng Việt / English": the page's half."""
    vietnamese, separator, english = str(label).partition(" / ")
    if not separator:
        return str(label)
    return english if get_language() == "en" else vietnamese


def _sector_name(sector: Sector) -> str:
    return sector.name_en if get_language() == "en" and sector.name_en else sector.name


def _money(amount: int) -> str:
    if amount == 0:
        return _("Free")
    grouped = f"{amount:,}"
    return f"{grouped} VND" if get_language() == "en" else f"{grouped.replace(',', '.')} đ"


def _old_level(procedure: Procedure) -> str:
    if procedure.old_online_level is None:
        return ""
    return _("level %(number)s") % {"number": procedure.old_online_level}


def _card(procedure: Procedure) -> dict:
    return {
        "code": procedure.code,
        "name": procedure.name,
        "url": reverse("procedure-detail", args=[procedure.code]),
        "sector": _sector_name(procedure.sector),
        "agency": procedure.agency.name,
        "level": procedure.level,
        "level_label": _half(procedure.get_level_display()),
        "online_level": procedure.online_level,
        "online_label": _half(procedure.get_online_level_display()),
        "old_level": _old_level(procedure),
        "processing_days": procedure.processing_days,
        "fee": _money(procedure.fee_vnd),
    }


def _choice(request, name: str, allowed) -> str:
    # A value the page never offers (an old link, a typo) is ignored rather
    # than answered with an error page; the API reports it instead.
    value = (request.GET.get(name) or "").strip()
    return value if value in allowed else ""


def procedure_list(request):
    sectors = list(Sector.objects.filter(procedures__is_active=True).distinct().order_by("name"))
    agencies = list(Agency.objects.filter(procedures__is_active=True).distinct().order_by("name"))
    q = (request.GET.get("q") or "").strip()[:MAX_QUERY_LENGTH]
    chosen = {
        "sector": _choice(request, "sector", {s.code for s in sectors}),
        "agency": _choice(request, "agency", {a.code for a in agencies}),
        "level": _choice(request, "level", AdministrativeLevel.values),
        "online_level": _choice(request, "online_level", OnlineLevel.values),
    }
    procedures = catalogue.procedures_search(q=q or None, **{k: v or None for k, v in chosen.items()})
    page = Paginator(procedures, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "q": q,
        "chosen": chosen,
        "filtered": any(chosen.values()) or bool(q),
        "sectors": [{"code": s.code, "name": _sector_name(s)} for s in sectors],
        "agencies": [{"code": a.code, "name": a.name} for a in agencies],
        "levels": [{"code": value, "name": _half(label)} for value, label in AdministrativeLevel.choices],
        "online_levels": [{"code": value, "name": _half(label)} for value, label in OnlineLevel.choices],
        "page": page,
        "procedures": [_card(p) for p in page.object_list],
        "page_query": query.urlencode(),
    }
    return render(request, "dossiers/procedure_list.html", context)


def procedure_detail(request, code: str):
    procedure = catalogue.procedure_get(code=code)
    if procedure is None:
        raise Http404
    detail_url = reverse("procedure-detail", args=[procedure.code])
    context = {
        "procedure": procedure,
        "card": _card(procedure),
        "forms": [
            {"title": form.title, "url": form.file.url if form.file else form.url} for form in procedure.forms.all()
        ],
        # The submission page belongs to the dossier pages; its address is
        # part of the public contract, so it is built rather than reversed.
        "submit_url": f"{detail_url}submit/",
        "national_portal_url": catalogue.national_portal_url(procedure.code),
    }
    return render(request, "dossiers/procedure_detail.html", context)


def procedure_form_file(request, name: str):
    """An uploaded form of a procedure (its `file.url`), as a download. Only
    files that a form row names are served: the media folder is not public."""
    form = ProcedureForm.objects.filter(file=f"{ProcedureForm.UPLOAD_TO}{name}").first()
    if form is None:
        raise Http404
    try:
        handle = form.file.storage.open(form.file.name, "rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return download_response(handle, filename=name, content_type=content_type)


# --- Administrator: CSV import -------------------------------------------------------------------


class ProcedureImportForm(forms.Form):
    file = forms.FileField(
        label="Tệp CSV / CSV file",
        help_text="UTF-8, các cột như data/procedures/catalogue.csv / UTF-8, columns as in that file",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("Tệp lớn hơn 5 MB. / The file is larger than 5 MB.")
        return upload


def procedure_import_admin_view(request):
    """Admin page: upload a catalogue CSV; all rows or none are imported.
    Mounted by `ProcedureAdmin.get_urls` inside `admin_site.admin_view`
    (staff login); the import also needs the add and change permissions."""
    if not request.user.has_perms(["dossiers.add_procedure", "dossiers.change_procedure"]):
        raise PermissionDenied
    report = None
    if request.method == "POST":
        form = ProcedureImportForm(request.POST, request.FILES)
        if form.is_valid():
            with tempfile.NamedTemporaryFile(suffix=".csv") as copy:
                for chunk in form.cleaned_data["file"].chunks():
                    copy.write(chunk)
                copy.flush()
                report = catalogue.procedures_import(path=copy.name, acting_user=request.user)
            if report.ok:
                messages.success(request, report.summary())
                return redirect("admin:dossiers_procedure_changelist")
    else:
        form = ProcedureImportForm()
    context = {
        **admin.site.each_context(request),
        "title": "Nhập danh mục thủ tục từ CSV / Import procedures from CSV",
        "opts": Procedure._meta,
        "form": form,
        "report": report,
        "columns": catalogue.CSV_COLUMNS,
    }
    return render(request, "admin/dossiers/procedure/import_csv.html", context)


def procedure_export_admin_view(request):
    """Admin: the whole catalogue as the import's CSV (with the postal
    columns postal_submission_allowed and postal_result_allowed). Mounted
    by `ProcedureAdmin.get_urls` inside `admin_site.admin_view`; needs the
    view permission."""
    if not request.user.has_perm("dossiers.view_procedure"):
        raise PermissionDenied
    return download_response(
        catalogue.procedures_export(), filename="danh-muc-thu-tuc.csv", content_type=CSV_CONTENT_TYPE
    )
