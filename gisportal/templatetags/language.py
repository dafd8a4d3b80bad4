"""`{{ label|in_language }}`: the half of a "Tiếng Việt / English" label
(model choices, API messages) in the page's language. A builtin of every
template (settings TEMPLATES), so pages never show both halves."""

from django import template

from gisportal.messages import in_language

register = template.Library()


@register.filter(name="in_language")
def in_language_filter(label) -> str:
    return "" if label is None else in_language(label)
