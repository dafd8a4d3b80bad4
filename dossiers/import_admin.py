"""The administrator's file imports of the procedure catalogue (CSV), the
dossier components and e-forms, and the procedures' processes (JSON or CSV):
one page each, mounted by `ProcedureAdmin.get_urls` inside
`admin_site.admin_view`, all needing the add and change permissions of
procedures. Each import checks every row first and changes all or nothing;
a refused file shows every problem, naming the procedure and the field."""

import tempfile
from collections.abc import Callable
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from .models import Procedure

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class ProcedureFileForm(forms.Form):
    file = forms.FileField()

    def __init__(self, *args, label: str, help_text: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].label = label
        self.fields["file"].help_text = help_text

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("Tệp lớn hơn 5 MB. / The file is larger than 5 MB.")
        return upload


def procedure_file_import_view(
    request,
    *,
    run: Callable,
    title: str,
    template: str,
    columns: list[str],
    label: str,
    help_text: str,
    json_too: bool = True,
    refused_status: int = 200,
):
    """The upload page: GET shows the form, POST imports the file through
    `run(path, user)` (a report with `ok`, `errors` and `summary()`) and goes
    back to the procedure list when it went in; else the page again with
    `refused_status` and every problem."""
    if not request.user.has_perms(["dossiers.add_procedure", "dossiers.change_procedure"]):
        raise PermissionDenied
    report = None
    status = 200
    form_options = {"label": label, "help_text": help_text}
    if request.method == "POST":
        form = ProcedureFileForm(request.POST, request.FILES, **form_options)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            suffix = ".json" if json_too and Path(upload.name).suffix.lower() == ".json" else ".csv"
            with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
                for chunk in upload.chunks():
                    copy.write(chunk)
                copy.flush()
                report = run(copy.name, request.user)
            if report.ok:
                messages.success(request, report.summary())
                return redirect("admin:dossiers_procedure_changelist")
        status = refused_status
    else:
        form = ProcedureFileForm(**form_options)
    context = {
        **admin.site.each_context(request),
        "title": title,
        "opts": Procedure._meta,
        "form": form,
        "report": report,
        "columns": columns,
    }
    return render(request, template, context, status=status)
