"""Administrator's import of dossier components and e-forms (JSON or CSV,
`components.components_import`), through the shared upload page
(`import_admin.procedure_file_import_view`)."""

from .components import CSV_COLUMNS, components_import
from .import_admin import procedure_file_import_view


def procedure_components_import_admin_view(request):
    return procedure_file_import_view(
        request,
        run=lambda path, _user: components_import(path=path),
        title="Nhập thành phần hồ sơ, biểu mẫu điện tử / Import dossier components and e-forms",
        template="admin/dossiers/procedure/import_components.html",
        columns=CSV_COLUMNS,
        label="Tệp JSON hoặc CSV / JSON or CSV file",
        help_text="UTF-8, như dossiers/data/components.json / UTF-8, as dossiers/data/components.json",
    )
