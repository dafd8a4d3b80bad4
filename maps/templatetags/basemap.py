"""{% base_map %}: the shared base map's settings and script, for every page
with a Leaflet map (after leaflet.js, before the page's own script)."""

from django import template

from maps.basemap import base_map_config

register = template.Library()


@register.inclusion_tag("maps/_basemap.html")
def base_map() -> dict:
    return {"base_map_config": base_map_config()}
