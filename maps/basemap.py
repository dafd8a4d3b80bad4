"""The base map every map page shares (static/maps/basemap.js).

By default it is the portal's own context layer, read from its own public
API: the province outline, the commune and ward outlines of the map in force
today with their names, and the service points' names. No request leaves the
machine (docs/decisions.md, "The base map is ours unless an operator says
otherwise"). An operator may put raster tiles underneath (BASE_MAP_KIND=xyz,
BASE_MAP_URL, BASE_MAP_ATTRIBUTION, BASE_MAP_MAX_ZOOM) or a vector map drawn
from a MapLibre/Mapbox GL style (BASE_MAP_KIND=style, BASE_MAP_URL the style
JSON); the context layer stays on top of either."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

# Credits the boundary and population sources ask for; shown on every map.
DATA_ATTRIBUTION = "© Marc Choisy (MIT), © Thang Le Quoc (MIT), © dvhcvn (MIT)"

# Commune names from this zoom on (the province fills a phone at about 9),
# decluttered: a name that would overlap one already placed waits for a
# closer zoom. Service-point names from street level.
COMMUNE_LABELS_FROM_ZOOM = 10
POINT_LABELS_FROM_ZOOM = 14


def xyz_tiles() -> dict | None:
    """The operator's raster tiles, or None (the default: none)."""
    if settings.BASE_MAP_KIND != "xyz":
        return None
    return {
        "url": settings.BASE_MAP_URL,
        "attribution": settings.BASE_MAP_ATTRIBUTION,
        "maxZoom": settings.BASE_MAP_MAX_ZOOM,
    }


def vector_style() -> dict | None:
    """The operator's vector style (MapLibre GL style JSON), or None."""
    if settings.BASE_MAP_KIND != "style":
        return None
    return {"url": settings.BASE_MAP_URL, "attribution": settings.BASE_MAP_ATTRIBUTION}


def base_map_config() -> dict:
    today = timezone.localdate().isoformat()
    units = reverse("admin-unit-list")
    return {
        "kind": settings.BASE_MAP_KIND,
        "tiles": xyz_tiles(),
        "style": vector_style(),
        "attribution": DATA_ATTRIBUTION,
        "context": {
            "province": f"{units}?{urlencode({'level': 'province', 'on': today, 'geometry': 'simplified'})}",
            "communes": f"{units}?"
            + urlencode({"level": "commune", "on": today, "geometry": "simplified", "limit": 200}),
            "points": f"{reverse('service-point-list')}?{urlencode({'kind': 'any', 'limit': 10000})}",
            "communeLabelsFromZoom": COMMUNE_LABELS_FROM_ZOOM,
            "pointLabelsFromZoom": POINT_LABELS_FROM_ZOOM,
        },
        "strings": {
            "tiles": _("Base map"),
            "context": _("Place names"),
        },
    }
