"""E-forms of a dossier as printed: the filled form (tờ khai) as a PDF on
the slips' layout (`slips.pdf_from_html`), its rows labelled from the schema
it was filled against, and the list of components a dossier really
received, for the receipt slip and the detail answer."""

import datetime as dt
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone

from .models import Dossier, DossierEForm
from .slips import SlipForm, issuer_lines, pdf_from_html


@dataclass(frozen=True)
class FormRow:
    label: str
    value: str
    depth: int
    heading: bool = False


def _ordered_keys(schema: dict, answers: dict) -> list[str]:
    """The schema's `x-order` (PostgreSQL's jsonb keeps no key order), then
    any other property in name order, then answers the schema does not name."""
    properties = schema.get("properties") or {}
    order = [k for k in schema.get("x-order") or [] if k in properties]
    order += sorted(k for k in properties if k not in order)
    return order + sorted(k for k in answers if k not in order)


def _text(value) -> str:
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, int | float):
        return f"{value:,}".replace(",", ".") if isinstance(value, int) else str(value).replace(".", ",")
    return str(value)


def _date_text(value: str) -> str:
    """dd/mm/yyyy, as Vietnamese forms write a date."""
    try:
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def eform_rows(schema: dict, answers: dict, depth: int = 0) -> list[FormRow]:
    """Label and value of every answered field, groups as headings."""
    rows: list[FormRow] = []
    properties = schema.get("properties") or {}
    for key in _ordered_keys(schema, answers):
        if key not in answers or answers[key] in ("", None):
            continue
        spec = properties.get(key) or {}
        label = str(spec.get("title") or key)
        value = answers[key]
        if isinstance(value, dict):
            rows.append(FormRow(label, "", depth, heading=True))
            rows += eform_rows(spec, value, depth + 1)
        elif spec.get("format") == "date" and isinstance(value, str):
            rows.append(FormRow(label, _date_text(value), depth))
        else:
            rows.append(FormRow(label, _text(value), depth))
    return rows


def eform_pdf(*, dossier: Dossier, eform: DossierEForm) -> bytes:
    issuer_parent, issuer_unit = issuer_lines(dossier)
    context = {
        "form": SlipForm(0, eform.title.upper(), "A4"),
        "dossier": dossier,
        "eform": eform,
        "rows": eform_rows(eform.form_schema, eform.answers),
        "issuer_parent": issuer_parent,
        "issuer_unit": issuer_unit,
        "issued_at": timezone.localtime(eform.submitted_at),
    }
    return pdf_from_html(render_to_string("dossiers/slips/eform.html", context))
