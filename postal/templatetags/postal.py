"""Filters for the post's blocks on pages that receive the API's shapes
(ISO times, "Tiếng Việt / English" labels)."""

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gisportal.messages import in_language

register = template.Library()


@register.filter
def moment(value: str | None):
    """An ISO time of the API as a local datetime (for the `date` filter)."""
    parsed = parse_datetime(value) if value else None
    return timezone.localtime(parsed) if parsed else None


@register.filter(name="in_language")
def in_language_filter(label: str) -> str:
    return in_language(label)
