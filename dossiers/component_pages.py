"""The submit page's part for dossier components: one upload slot per
component with its rules, and each e-form rendered from its JSON Schema as
plain HTML fields (Vietnamese labels, the browser's own hints: required,
pattern, lengths, ranges). The page works without JavaScript; the server's
check (`components.components_check`) is the authority and its messages are
shown next to the slot or the field they name."""

from dataclasses import dataclass, field

from django.http import QueryDict

from gisportal.api import message

from .attachments import CheckedFile, attachments_check
from .components import FILE_TYPE_NAMES, ComponentsRefused
from .models import Procedure, ProcedureComponent

SUFFIXES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg,.jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}


@dataclass
class FormField:
    """One input of an e-form, or a heading for a group (an object)."""

    name: str  # the input's name: eform-<component>-<dotted path>
    path: str
    label: str
    depth: int
    heading: bool = False
    kind: str = "text"  # text, textarea, date, number, integer, select, checkbox
    required: bool = False
    attrs: dict = field(default_factory=dict)
    choices: list = field(default_factory=list)
    hint: str = ""
    value: object = ""
    errors: list[str] = field(default_factory=list)

    @property
    def input_id(self) -> str:
        return "id_" + self.name.replace(".", "-")


def _input_name(code: str, path: str) -> str:
    return f"eform-{code}-{path}"


def _ordered(schema: dict) -> list[str]:
    properties = schema.get("properties") or {}
    order = [k for k in schema.get("x-order") or [] if k in properties]
    return order + sorted(k for k in properties if k not in order)


def eform_fields(
    code: str, schema: dict, *, prefix: str = "", depth: int = 0, required: bool = True
) -> list[FormField]:
    """The inputs of an e-form, groups flattened in order. `required` (the
    HTML hint) only where every enclosing group is required too: an empty
    optional group is left out of the answers altogether."""
    fields: list[FormField] = []
    properties = schema.get("properties") or {}
    needed = set(schema.get("required") or [])
    for key in _ordered(schema):
        spec = properties[key] if isinstance(properties[key], dict) else {}
        path = f"{prefix}{key}"
        label = str(spec.get("title") or key)
        is_required = required and key in needed
        if spec.get("type") == "object":
            fields.append(
                FormField(_input_name(code, path), path, label, depth, heading=True, hint=spec.get("description", ""))
            )
            fields += eform_fields(code, spec, prefix=path + ".", depth=depth + 1, required=is_required)
            continue
        item = FormField(_input_name(code, path), path, label, depth, required=is_required)
        item.hint = str(spec.get("x-hint-vi") or spec.get("description") or "")
        kind = spec.get("type")
        if "enum" in spec:
            item.kind, item.choices = "select", [str(choice) for choice in spec["enum"]]
        elif kind == "boolean":
            item.kind = "checkbox"
            item.required = False
        elif kind in ("integer", "number"):
            item.kind = kind
            item.attrs["step"] = "1" if kind == "integer" else "any"
            for keyword, attr in (("minimum", "min"), ("maximum", "max")):
                if keyword in spec:
                    item.attrs[attr] = spec[keyword]
        elif spec.get("format") == "date":
            item.kind = "date"
        else:
            item.kind = "textarea" if spec.get("maxLength", 0) > 500 else "text"
            for keyword, attr in (("minLength", "minlength"), ("maxLength", "maxlength"), ("pattern", "pattern")):
                if keyword in spec:
                    item.attrs[attr] = spec[keyword]
        if "default" in spec:
            item.value = spec["default"]
        fields.append(item)
    return fields


def _converted(raw: str, spec: dict):
    """The typed value of a text input; a value that does not convert stays
    text so that the schema names the field."""
    kind = spec.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw.replace(",", "."))
    except ValueError:
        return raw
    return raw


def eform_answers(code: str, schema: dict, data: QueryDict, *, prefix: str = "") -> dict:
    """The answers of an e-form from the page's POST: empty inputs left out,
    an empty group left out, numbers typed."""
    answers: dict = {}
    properties = schema.get("properties") or {}
    for key in _ordered(schema):
        spec = properties[key] if isinstance(properties[key], dict) else {}
        path = f"{prefix}{key}"
        if spec.get("type") == "object":
            nested = eform_answers(code, spec, data, prefix=path + ".")
            if nested:
                answers[key] = nested
            continue
        name = _input_name(code, path)
        if spec.get("type") == "boolean":
            if name in data:
                answers[key] = data.get(name) in ("on", "true", "1")
            continue
        raw = (data.get(name) or "").strip()
        if raw:
            answers[key] = _converted(raw, spec)
    return answers


def components_from_post(
    procedure: Procedure, request
) -> tuple[dict[str, list[CheckedFile]], dict, dict[str, list[str]]]:
    """(files by component, e-form answers by component, problems by
    component) of the submit page's POST."""
    files: dict[str, list[CheckedFile]] = {}
    forms: dict = {}
    problems: dict[str, list[str]] = {}
    for component in procedure.components.all():
        if component.is_eform:
            answers = eform_answers(component.code, component.form_schema, request.POST)
            if answers:
                forms[component.code] = answers
            continue
        uploads = request.FILES.getlist(f"components[{component.code}]")
        if uploads:
            files[component.code], found = attachments_check(uploads)
            if found:
                problems[component.code] = found
    return files, forms, problems


@dataclass
class Slot:
    component: ProcedureComponent
    input_name: str
    accept: str
    types_text: str
    rules: list[str]
    errors: list[str]
    fields: list[FormField]


def _rules(component: ProcedureComponent, group_names: dict[str, list[str]]) -> list[str]:
    rules = []
    others = [name for name in group_names.get(component.group, []) if name != component.name]
    if not component.required:
        rules.append(message("Không bắt buộc", "Optional"))
    elif others:
        names = "; ".join([component.name, *others])
        rules.append(message(f"Bắt buộc một trong: {names}", "One of these is required"))
    else:
        rules.append(message("Bắt buộc", "Required"))
    counts = []
    if component.originals:
        counts.append(f"{component.originals} bản chính")
    if component.copies:
        counts.append(f"{component.copies} bản sao")
    if counts:
        rules.append(", ".join(counts))
    return rules


def component_slots(
    procedure: Procedure,
    *,
    data: QueryDict | None = None,
    refused: ComponentsRefused | None = None,
    problems: dict[str, list[str]] | None = None,
    complete: bool = True,
) -> list[Slot]:
    """The slots of the page, with what was typed and the errors to show.
    Without `complete` (a desk officer, who checks the paper in hand) no
    e-form field is marked required for the browser: a form is optional
    there, and checked in full when filled in."""
    components = list(procedure.components.all())
    group_names: dict[str, list[str]] = {}
    for component in components:
        if component.group:
            group_names.setdefault(component.group, []).append(component.name)
    errors = dict(problems or {})
    if refused is not None:
        for code, texts in refused.components.items():
            errors.setdefault(code, []).extend(texts)
    slots = []
    for component in components:
        fields: list[FormField] = []
        if component.is_eform:
            fields = eform_fields(component.code, component.form_schema)
            form_errors = refused.forms.get(component.code, {}) if refused is not None else {}
            for item in fields:
                if data is not None and not item.heading:
                    item.value = item.name in data if item.kind == "checkbox" else data.get(item.name, "")
                item.errors = form_errors.get(item.path, [])
                item.required = item.required and complete
            errors.setdefault(component.code, []).extend(form_errors.get("", []))
        slots.append(
            Slot(
                component=component,
                input_name=f"components[{component.code}]",
                accept=",".join(SUFFIXES[t] for t in component.accepted_types if t in SUFFIXES),
                types_text=", ".join(FILE_TYPE_NAMES.get(t, t) for t in component.accepted_types),
                rules=_rules(component, group_names),
                errors=errors.get(component.code, []),
                fields=fields,
            )
        )
    return slots
