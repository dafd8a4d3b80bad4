"""Catalogue pages (search list and procedure detail) and the administrator's
CSV import page. The pages are server-rendered: they work without
JavaScript and on a phone."""

import mimetypes

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gisportal.accounts.models import Agency
from gisportal.downloads import download_response
from gisportal.messages import in_language
from gisportal.spreadsheets import CSV_CONTENT_TYPE

from . import catalogue
from .import_admin import procedure_file_import_view
from .models import AdministrativeLevel, OnlineLevel, Procedure, ProcedureForm, Sector
from .process import steps_public

PAGE_SIZE = 20
MAX_QUERY_LENGTH = 200


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
        "level_label": in_language(procedure.get_level_display()),
        "online_level": procedure.online_level,
        "online_label": in_language(procedure.get_online_level_display()),
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
        "levels": [{"code": value, "name": in_language(label)} for value, label in AdministrativeLevel.choices],
        "online_levels": [{"code": value, "name": in_language(label)} for value, label in OnlineLevel.choices],
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
        # Its own process (dossiers.process), in the page's language.
        "process_steps": [
            {
                **step,
                "label": in_language(step["label"]),
                "role_labels": [in_language(label) for label in step["role_labels"]],
            }
            for step in steps_public(procedure)
        ],
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


def procedure_import_admin_view(request):
    """Admin page: upload a catalogue CSV; all rows or none are imported
    (the shared upload page, `import_admin.procedure_file_import_view`)."""
    return procedure_file_import_view(
        request,
        run=lambda path, user: catalogue.procedures_import(path=path, acting_user=user),
        title="Nhập danh mục thủ tục từ CSV / Import procedures from CSV",
        template="admin/dossiers/procedure/import_csv.html",
        columns=catalogue.CSV_COLUMNS,
        label="Tệp CSV / CSV file",
        help_text="UTF-8, các cột như data/procedures/catalogue.csv / UTF-8, columns as in that file",
        json_too=False,
    )


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
