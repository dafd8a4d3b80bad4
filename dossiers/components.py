"""Dossier components (thành phần hồ sơ) and e-forms, configured as data.

A procedure lists its components (`ProcedureComponent`): required or
optional, alternatives of a one-of group ("CCCD hoặc hộ chiếu"), accepted
file types, and for an e-form a JSON Schema (Draft 2020-12) the applicant's
answers must satisfy. This module checks a component definition when it is
saved or imported, checks a submission against a procedure's components
(`components_check`, a 422 naming every missing or refused component and
every e-form field at fault), and imports components from JSON or CSV.

E-forms are validated with `jsonschema` (a maintained implementation of the
specification): the browser's hints are a convenience, this is the
authority."""

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from gisportal.api import message

from .attachments import CheckedFile
from .import_report import FileImportReport
from .models import ComponentFileType, Dossier, Procedure, ProcedureComponent

# What an e-form answer may weigh once serialised: a form, not a document store.
MAX_ANSWERS_BYTES = 64 * 1024
MAX_SCHEMA_BYTES = 64 * 1024
FILE_TYPE_NAMES = dict(ComponentFileType.choices)
# Short names accepted in imports besides the content types themselves.
FILE_TYPE_ALIASES = {
    "pdf": ComponentFileType.PDF,
    "png": ComponentFileType.PNG,
    "jpg": ComponentFileType.JPEG,
    "jpeg": ComponentFileType.JPEG,
    "docx": ComponentFileType.DOCX,
}


class ComponentsRefused(Exception):
    """A submission's components or e-forms do not satisfy the procedure
    (422): `components` maps a component code to its messages, `forms` a
    form's component code to {field path: messages}."""

    def __init__(self, *, components: dict[str, list[str]], forms: dict[str, dict[str, list[str]]]):
        self.components, self.forms = components, forms
        super().__init__(self.body())

    def body(self) -> dict:
        body: dict = {}
        if self.components:
            body["components"] = self.components
        if self.forms:
            body["forms"] = self.forms
        return body


# --- definitions ---------------------------------------------------------------------------------


def form_schema_problems(schema) -> list[str]:
    """Why `schema` is not a usable e-form schema (empty list when it is):
    a valid Draft 2020-12 schema describing an object."""
    if not isinstance(schema, dict):
        return [message("Lược đồ biểu mẫu phải là một đối tượng JSON.", "The form schema must be a JSON object.")]
    if len(json.dumps(schema, ensure_ascii=False).encode()) > MAX_SCHEMA_BYTES:
        return [message("Lược đồ biểu mẫu quá lớn (tối đa 64 KB).", "The form schema is too large (64 KB at most).")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.path) or "(gốc)"
        return [
            message(
                f"Lược đồ không hợp lệ theo JSON Schema 2020-12 tại {where}: {error.message}",
                f"Not a valid JSON Schema 2020-12 at {where}: {error.message}",
            )
        ]
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return [
            message(
                'Biểu mẫu phải có "type": "object" và "properties".',
                'An e-form schema needs "type": "object" and "properties".',
            )
        ]
    return []


def component_problems(*, accepted_types, form_schema, originals: int, copies: int) -> dict[str, list[str]]:
    """Problems of one component definition by field (ProcedureComponent.clean
    and the import)."""
    problems: dict[str, list[str]] = {}
    if not isinstance(accepted_types, list) or any(t not in FILE_TYPE_NAMES for t in accepted_types):
        listed = ", ".join(ComponentFileType.values)
        problems["accepted_types"] = [
            message(f"Danh sách loại tệp, chọn trong: {listed}.", f"A list of file types among: {listed}.")
        ]
    if form_schema is not None:
        schema_problems = form_schema_problems(form_schema)
        if schema_problems:
            problems["form_schema"] = schema_problems
    elif not accepted_types and "accepted_types" not in problems:
        problems["accepted_types"] = [
            message(
                "Thành phần không phải biểu mẫu điện tử phải nhận ít nhất một loại tệp.",
                "A component that is not an e-form must accept at least one file type.",
            )
        ]
    if originals + copies > 20:
        problems["copies"] = [message("Tối đa 20 bản.", "At most 20 originals and copies.")]
    return problems


# --- submissions ---------------------------------------------------------------------------------


def _label(schema: dict, path: list) -> str:
    """The Vietnamese label (`title`) of the field at `path`, else its name."""
    node = schema
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {}) if isinstance(node, dict) else {}
        else:
            node = node.get("properties", {}).get(part, {}) if isinstance(node, dict) else {}
    title = node.get("title") if isinstance(node, dict) else None
    return str(title) if title else (str(path[-1]) if path else "Biểu mẫu")


def _schema_at(schema: dict, path: list) -> dict:
    node = schema
    for part in path:
        key = "items" if isinstance(part, int) else None
        node = (
            (node.get(key, {}) if key else node.get("properties", {}).get(part, {})) if isinstance(node, dict) else {}
        )
    return node if isinstance(node, dict) else {}


def _error_text(error, schema: dict, path: list) -> str:
    label = _label(schema, path)
    node = _schema_at(schema, path)
    hint = node.get("x-hint-vi") or node.get("description") or ""
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return message(f"{label}: bắt buộc phải điền.", f"{label}: required.")
    if kind == "type":
        names = {
            "string": "chuỗi",
            "integer": "số nguyên",
            "number": "số",
            "boolean": "có/không",
            "object": "nhóm",
            "array": "danh sách",
        }
        wanted = value if isinstance(value, str) else "/".join(value)
        return message(f"{label}: phải là {names.get(wanted, wanted)}.", f"{label}: must be of type {wanted}.")
    if kind == "pattern":
        return message(
            f"{label}: không đúng định dạng{' (' + hint + ')' if hint else ''}.", f"{label}: wrong format ({value})."
        )
    if kind == "format":
        return message(f"{label}: không đúng định dạng {value}.", f"{label}: not a valid {value}.")
    if kind in ("minLength", "maxLength"):
        vi = "ít nhất" if kind == "minLength" else "tối đa"
        en = "at least" if kind == "minLength" else "at most"
        return message(f"{label}: {vi} {value} ký tự.", f"{label}: {en} {value} characters.")
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        vi = "không nhỏ hơn" if "inimum" in kind else "không lớn hơn"
        en = "at least" if "inimum" in kind else "at most"
        return message(f"{label}: {vi} {value}.", f"{label}: {en} {value}.")
    if kind in ("enum", "const"):
        choices = ", ".join(str(v) for v in (value if isinstance(value, list) else [value]))
        return message(f"{label}: chọn một trong: {choices}.", f"{label}: use one of: {choices}.")
    if kind == "additionalProperties":
        return message(f"{label}: có trường không thuộc biểu mẫu.", f"{label}: has fields the form does not know.")
    return message(f"{label}: không hợp lệ ({kind}).", f"{label}: not valid ({error.message}).")


def eform_errors(schema: dict, answers) -> dict[str, list[str]]:
    """{field path: messages} of `answers` against the e-form `schema`; the
    path is dotted (`mother.full_name`), "" for the form itself."""
    if not isinstance(answers, dict):
        return {"": [message("Câu trả lời phải là một đối tượng JSON.", "The answers must be a JSON object.")]}
    if len(json.dumps(answers, ensure_ascii=False).encode()) > MAX_ANSWERS_BYTES:
        return {"": [message("Biểu mẫu quá lớn (tối đa 64 KB).", "The form is too large (64 KB at most).")]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(answers), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "required":
            instance = error.instance if isinstance(error.instance, dict) else {}
            for name in error.validator_value:
                if name not in instance:
                    key = ".".join(map(str, [*path, name]))
                    text = _error_text(error, schema, [*path, name])
                    if text not in errors.get(key, []):
                        errors.setdefault(key, []).append(text)
            continue
        errors.setdefault(".".join(map(str, path)), []).append(_error_text(error, schema, path))
    return errors


@dataclass
class CheckedComponents:
    """A submission's components once checked: files by component and the
    answers of each e-form, with the component rows they belong to."""

    components: dict[str, ProcedureComponent] = field(default_factory=dict)
    files: dict[str, list[CheckedFile]] = field(default_factory=dict)
    forms: dict[str, dict] = field(default_factory=dict)


def _types_text(types: Iterable[str]) -> str:
    return ", ".join(FILE_TYPE_NAMES.get(t, t) for t in types) or "—"


def components_check(
    *,
    procedure: Procedure,
    files: dict[str, list[CheckedFile]],
    forms: dict,
    require_complete: bool,
) -> CheckedComponents:
    """Checks tagged files and e-form answers against the procedure's
    components: every code known, every file of an accepted type, every form
    valid, and (with `require_complete`, online submissions) every required
    component, or one of its group, present. ComponentsRefused (422) names
    every problem at once; nothing has been written when it is raised."""
    components = {c.code: c for c in procedure.components.all()}
    problems: dict[str, list[str]] = {}
    form_problems: dict[str, dict[str, list[str]]] = {}

    def fail(code: str, vi: str, en: str) -> None:
        problems.setdefault(code, []).append(message(vi, en))

    if not isinstance(forms, dict):
        fail("forms", "Phải là đối tượng JSON {mã thành phần: câu trả lời}.", "Must be an object {component: answers}.")
        forms = {}
    for code, uploads in files.items():
        component = components.get(code)
        if component is None:
            fail(code, "Thủ tục không có thành phần hồ sơ này.", "This procedure has no such dossier component.")
            continue
        if component.is_eform:
            fail(
                code,
                "Thành phần này là biểu mẫu điện tử: điền trên màn hình, không tải tệp.",
                "This component is an e-form: fill it in on screen, do not upload a file.",
            )
            continue
        for upload in uploads:
            if upload.content_type not in component.accepted_types:
                accepted = _types_text(component.accepted_types)
                fail(
                    code,
                    f"{upload.original_name}: thành phần này chỉ nhận {accepted}.",
                    f"{upload.original_name}: this component accepts {accepted} only.",
                )
    for code, answers in forms.items():
        component = components.get(code)
        if component is None or not component.is_eform:
            fail(str(code), "Thủ tục không có biểu mẫu điện tử này.", "This procedure has no such e-form.")
            continue
        errors = eform_errors(component.form_schema, answers)
        if errors:
            form_problems[code] = errors
    if require_complete:
        present = {code for code, uploads in files.items() if uploads} | {code for code in forms if forms[code]}
        _check_required(components.values(), present, fail)
    if problems or form_problems:
        raise ComponentsRefused(components=problems, forms=form_problems)
    return CheckedComponents(
        components=components,
        files={code: uploads for code, uploads in files.items() if uploads},
        forms=dict(forms),
    )


def _check_required(components: Iterable[ProcedureComponent], present: set[str], fail) -> None:
    groups: dict[str, list[ProcedureComponent]] = {}
    for component in components:
        if component.group:
            groups.setdefault(component.group, []).append(component)
        elif component.required and component.code not in present:
            fail(
                component.code,
                f"Thiếu thành phần bắt buộc: {component.name}.",
                f"Missing required component: {component.name}.",
            )
    for members in groups.values():
        if any(m.required for m in members) and not any(m.code in present for m in members):
            names = " hoặc ".join(m.name for m in members)
            for member in members:
                fail(
                    member.code,
                    f"Cần một trong các thành phần: {names}.",
                    "One of these components is required: " + ", ".join(m.code for m in members) + ".",
                )


# --- import ---------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "procedure",
    "code",
    "name",
    "required",
    "group",
    "originals",
    "copies",
    "accepted_types",
    "form_schema",
    "order",
]
_IMPORTED_FIELDS = ["name", "required", "group", "originals", "copies", "accepted_types", "form_schema", "order"]
_TRUE = frozenset({"true", "1", "yes", "có", "co", "x"})
_FALSE = frozenset({"false", "0", "no", "không", "khong", ""})


@dataclass
class ComponentImportReport(FileImportReport):
    procedures: int = 0
    components: int = 0

    def summary(self) -> str:
        return message(
            f"{self.components} thành phần hồ sơ của {self.procedures} thủ tục.",
            f"{self.components} dossier components of {self.procedures} procedures.",
        )


def _types(raw, where: str, errors: list[str]) -> list[str]:
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.replace(";", "|").split("|") if part.strip()]
    if not isinstance(raw, list):
        errors.append(message(f"{where}: accepted_types phải là danh sách.", f"{where}: accepted_types is a list."))
        return []
    return [FILE_TYPE_ALIASES.get(str(t).lower(), t) for t in raw]


def _entries_from_json(text: str, errors: list[str]) -> list[dict]:
    """`{"1.001193": [{component}, ...], ...}` or `[{"procedure": ..., ...}]`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        errors.append(message(f"JSON không hợp lệ: {error}.", f"Not valid JSON: {error}."))
        return []
    if isinstance(data, dict):
        entries = []
        for code, items in data.items():
            if not isinstance(items, list):
                errors.append(message(f"{code}: phải là danh sách thành phần.", f"{code}: must be a list."))
                continue
            entries += [
                {"procedure": code, "order": index, **item}
                for index, item in enumerate(items)
                if isinstance(item, dict)
            ]
        return entries
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    errors.append(message("JSON phải là đối tượng hoặc danh sách.", "The JSON must be an object or a list."))
    return []


def _entries_from_csv(text: str, errors: list[str]) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in ("procedure", "code", "name") if c not in (reader.fieldnames or [])]
    if missing:
        errors.append(message(f"Dòng 1: thiếu cột {', '.join(missing)}.", f"Row 1: missing {', '.join(missing)}."))
        return []
    entries = []
    for number, row in enumerate(reader, start=2):
        entry: dict = {"row": number, **{k: (v or "").strip() for k, v in row.items() if k}}
        for column in ("required",):
            raw = entry.get(column, "true").lower() or "true"
            if raw not in _TRUE | _FALSE:
                errors.append(
                    message(f"Dòng {number}, cột {column}: true/false.", f"Row {number}, {column}: true/false.")
                )
            entry[column] = raw in _TRUE
        for column in ("originals", "copies", "order"):
            raw = entry.get(column, "")
            if raw and not raw.isdigit():
                errors.append(
                    message(f"Dòng {number}, cột {column}: số nguyên.", f"Row {number}, {column}: an integer.")
                )
            entry[column] = int(raw) if raw.isdigit() else None
        schema_raw = entry.get("form_schema", "")
        if schema_raw:
            try:
                entry["form_schema"] = json.loads(schema_raw)
            except json.JSONDecodeError:
                errors.append(
                    message(
                        f"Dòng {number}, cột form_schema: JSON không hợp lệ.",
                        f"Row {number}, form_schema: not valid JSON.",
                    )
                )
        else:
            entry["form_schema"] = None
        entries.append({k: v for k, v in entry.items() if v is not None or k == "form_schema"})
    return entries


def _clean_entry(
    entry: dict, procedures: dict[str, Procedure], errors: list[str], index: int
) -> ProcedureComponent | None:
    where = f"Dòng {entry['row']}" if "row" in entry else f"#{index + 1} ({entry.get('procedure')}/{entry.get('code')})"
    procedure = procedures.get(str(entry.get("procedure", "")))
    if procedure is None:
        errors.append(
            message(
                f"{where}: không có thủ tục {entry.get('procedure')}.",
                f"{where}: no procedure {entry.get('procedure')}.",
            )
        )
        return None
    schema = entry.get("form_schema")
    default_types = [] if schema is not None else list(ComponentFileType.values)
    types = _types(entry.get("accepted_types", default_types), where, errors)
    component = ProcedureComponent(
        procedure=procedure,
        code=str(entry.get("code", "")),
        name=str(entry.get("name", "")),
        required=bool(entry.get("required", True)),
        group=str(entry.get("group", "") or ""),
        originals=entry.get("originals", 0) or 0,
        copies=entry.get("copies", 0 if schema is not None else 1),
        accepted_types=types,
        form_schema=schema,
        order=entry.get("order", index) or 0,
    )
    try:
        component.full_clean(exclude=["procedure"], validate_unique=False)
    except ValidationError as invalid:
        for name, texts in invalid.message_dict.items():
            errors += [f"{where}, {name}: {text}" for text in texts]
        return None
    return component


def components_import(*, path: str | Path) -> ComponentImportReport:
    """Replaces the components of every procedure named in a JSON or CSV file
    (`CSV_COLUMNS`; accepted types separated by '|', the form schema as JSON
    text). All or nothing: one bad entry and nothing changes; procedures the
    file does not name keep theirs. Files already received keep their
    component code and name (the attachment rows copy them)."""
    report = ComponentImportReport()
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        report.errors.append(message(f"Không đọc được tệp UTF-8: {error}.", f"Cannot read a UTF-8 file: {error}."))
        return report
    is_json = path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "[")
    entries = (_entries_from_json if is_json else _entries_from_csv)(text, report.errors)
    codes = {str(e.get("procedure", "")) for e in entries}
    procedures = {p.code: p for p in Procedure.objects.filter(code__in=codes)}
    cleaned = [_clean_entry(entry, procedures, report.errors, index) for index, entry in enumerate(entries)]
    seen: set[tuple[str, str]] = set()
    for component in cleaned:
        if component is None:
            continue
        key = (component.procedure.code, component.code)
        if key in seen:
            report.errors.append(
                message(f"{key[0]}: mã thành phần {key[1]} lặp lại.", f"{key[0]}: code {key[1]} repeated.")
            )
        seen.add(key)
    if report.errors:
        return report
    touched = {c.procedure_id for c in cleaned}
    with transaction.atomic():
        # Matched by (procedure, code) so attachments keep pointing at the
        # same rows; components the file no longer lists are removed.
        existing = {(c.procedure_id, c.code): c for c in ProcedureComponent.objects.filter(procedure_id__in=touched)}
        keep = set()
        for component in cleaned:
            earlier = existing.get((component.procedure_id, component.code))
            if earlier is not None:
                component.pk = earlier.pk
                keep.add(earlier.pk)
        ProcedureComponent.objects.filter(procedure_id__in=touched).exclude(pk__in=keep).delete()
        ProcedureComponent.objects.bulk_update([c for c in cleaned if c.pk], _IMPORTED_FIELDS)
        ProcedureComponent.objects.bulk_create([c for c in cleaned if not c.pk])
    report.procedures, report.components = len(touched), len(cleaned)
    return report


# --- what a dossier received ------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedComponent:
    code: str
    name: str
    files: int
    eform: bool

    @property
    def count_text(self) -> str:
        parts = []
        if self.eform:
            parts.append("tờ khai điện tử")
        if self.files:
            parts.append(f"{self.files} tệp")
        return ", ".join(parts)


def components_received(dossier: Dossier, *, attachments=None, eforms=None) -> list[ReceivedComponent]:
    """What the dossier really holds, by component: files counted, e-forms
    filled in; files sent without a component as one last line. Empty for a
    dossier without any tagged component (the receipt then prints the
    catalogue's list, as before)."""
    files: dict[str, list] = {}
    names: dict[str, str] = {}
    for attachment in dossier.attachments.all() if attachments is None else attachments:
        files.setdefault(attachment.component_code, []).append(attachment)
        names.setdefault(attachment.component_code, attachment.component_name)
    forms = {eform.component_code: eform for eform in (dossier.eforms.all() if eforms is None else eforms)}
    if not forms and set(files) <= {""}:
        return []
    order = {c.code: c.order for c in dossier.procedure.components.all()}
    codes = sorted((set(files) | set(forms)) - {""}, key=lambda code: (order.get(code, 10_000), code))
    received = [
        ReceivedComponent(
            code=code,
            name=forms[code].title if code in forms else names[code],
            files=len(files.get(code, [])),
            eform=code in forms,
        )
        for code in codes
    ]
    if files.get(""):
        received.append(ReceivedComponent(code="", name="Tài liệu đính kèm khác", files=len(files[""]), eform=False))
    return received


def _is_id_field(key: str, spec: dict) -> bool:
    return key == "id_number" or spec.get("pattern") == "^[0-9]{12}$"


def eform_answers_masked(schema: dict, answers):
    """The answers with every citizen ID (a field named `id_number`, or
    whose pattern is the 12-digit one) masked as the dossier's own ID is
    for anyone but the applicant (`models.mask_id_number`)."""
    from .models import mask_id_number

    if not isinstance(answers, dict) or not isinstance(schema, dict):
        return answers
    properties = schema.get("properties") or {}
    masked = {}
    for key, value in answers.items():
        spec = properties.get(key) if isinstance(properties.get(key), dict) else {}
        if isinstance(value, dict):
            masked[key] = eform_answers_masked(spec, value)
        elif isinstance(value, str) and _is_id_field(key, spec):
            masked[key] = mask_id_number(value)
        else:
            masked[key] = value
    return masked
