"""Filters the payment panel uses on the dossier API's values."""

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dossiers.slips import qr_png_data_uri
from payments.words import vnd as vnd_format

register = template.Library()


@register.filter
def vnd(amount) -> str:
    """50000 → 50.000"""
    return vnd_format(int(amount)) if amount not in (None, "") else ""


@register.filter
def moment(value):
    """An ISO 8601 string of the API as a local datetime, for |date."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return timezone.localtime(parsed) if parsed else None


@register.filter
def qr_image(payload: str) -> str:
    """A QR code of `payload` as a PNG data URI."""
    return qr_png_data_uri(payload) if payload else ""
