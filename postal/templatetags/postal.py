"""Filters for the post's blocks on pages that receive the API's shapes
(ISO times); the "Tiếng Việt / English" labels go through the builtin
`in_language` filter (gisportal.templatetags.language)."""

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def moment(value: str | None):
    """An ISO time of the API as a local datetime (for the `date` filter)."""
    parsed = parse_datetime(value) if value else None
    return timezone.localtime(parsed) if parsed else None
