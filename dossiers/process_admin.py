"""Administrator's import of procedures' processes (JSON or CSV,
`process.process_import`), through the shared upload page
(`import_admin.procedure_file_import_view`). A refused file answers 400 with
every problem, naming the procedure, the step and the field."""

from .import_admin import procedure_file_import_view
from .process import CSV_COLUMNS, process_import


def procedure_process_import_admin_view(request):
    return procedure_file_import_view(
        request,
        run=lambda path, _user: process_import(path=path),
        title="Nhập quy trình của thủ tục / Import procedures' processes",
        template="admin/dossiers/procedure/import_process.html",
        columns=CSV_COLUMNS,
        label="Tệp JSON hoặc CSV / JSON or CSV file",
        help_text="UTF-8, như dossiers/data/processes.json / UTF-8, as dossiers/data/processes.json",
        refused_status=400,
    )
