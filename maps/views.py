"""The public map pages. The page itself is static HTML plus one JSON config
block; every layer is fetched by the browser from the public API, so the map
shows exactly what API clients see."""

import datetime as dt

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

# The 2025 arrangement of communes took effect on this day; the 2019 one is
# shown as it stood on a day well inside its term.
ERA_2025_START = dt.date(2025, 7, 1)
ERA_2019_SAMPLE_DAY = dt.date(2024, 1, 1)
DEFAULT_ERA = "2025"

# Credits the boundary and population sources ask for; shown on the map.
DATA_ATTRIBUTION = "© Marc Choisy (MIT), © Thang Le Quoc (MIT), © dvhcvn (MIT)"

NEAREST_LIMIT = 5


def _eras() -> list[dict]:
    # "Today" rather than the start day keeps the current map current if a
    # commune changes later inside the 2025 arrangement.
    current_day = max(timezone.localdate(), ERA_2025_START)
    return [
        {"key": "2025", "on": current_day.isoformat(), "label": _("2025 (current, after the merger)")},
        {"key": "2019", "on": ERA_2019_SAMPLE_DAY.isoformat(), "label": _("2019 (before 1 July 2025)")},
    ]


def _kinds() -> list[dict]:
    # The API's kind_label is always Vietnamese; the page labels kinds itself
    # so the English page is English throughout.
    return [
        {"key": "provincial_centre", "label": _("Provincial public administration service centre")},
        {"key": "commune_desk", "label": _("Commune one-stop desk")},
        {"key": "post_office", "label": _("Post office (public postal service)")},
    ]


def _strings() -> dict[str, str]:
    """Texts the script shows; `{name}` placeholders are filled in by the script."""
    return {
        "boundaries": _("Commune boundaries"),
        "code": _("Code"),
        "population": _("Population"),
        "populationYear": _("{population} ({year})"),
        "englishName": _("English name"),
        "kind": _("Type"),
        "address": _("Address"),
        "openingHours": _("Opening hours"),
        "counters": _("Counters"),
        "phone": _("Phone"),
        "demoNote": _("Demo location: placed by a rule, not surveyed. Check before you go."),
        "distance": _("Distance"),
        "loadingBoundaries": _("Loading commune boundaries…"),
        "loadingPoints": _("Loading service points…"),
        "pointsLoaded": _("{count} service points shown."),
        "boundariesLoaded": _("{era}: {count} communes shown."),
        "searching": _("Looking for the nearest service points…"),
        "nearestFound": _("The {count} nearest service points to the chosen point:"),
        "nearestNone": _("No service point of this type was found."),
        "requestFailed": _("The request failed: {message}"),
        "networkError": _("The server could not be reached. Check your connection and try again."),
        "locating": _("Finding your location…"),
        "geoUnsupported": _("This browser cannot share its location."),
        "geoDenied": _("Location permission was refused. Click the map instead."),
        "geoUnavailable": _("Your location could not be found. Click the map instead."),
        "chosenPoint": _("Chosen point"),
        "showOnMap": _("Show on map"),
        "basemap": _("Base map"),
        # Translators: OpenStreetMap day codes = the short day names to show.
        "days": _("Mo=Mon,Tu=Tue,We=Wed,Th=Thu,Fr=Fri,Sa=Sat,Su=Sun"),
    }


def _tiles() -> dict | None:
    # No base map unless a deployment configures one: the portal must work
    # offline, and the commune boundaries make the map readable on their own.
    url = getattr(settings, "MAP_TILE_URL", "")
    if not url:
        return None
    return {"url": url, "attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", "")}


def _map_config() -> dict:
    return {
        "language": get_language(),
        "api": {
            "adminUnits": reverse("admin-unit-list"),
            "servicePoints": reverse("service-point-list"),
            "nearest": reverse("service-point-nearest"),
        },
        "eras": _eras(),
        "defaultEra": DEFAULT_ERA,
        "kinds": _kinds(),
        "nearestLimit": NEAREST_LIMIT,
        "attribution": DATA_ATTRIBUTION,
        "tiles": _tiles(),
        "strings": _strings(),
    }


def _render_map(request, *, is_home: bool):
    config = _map_config()
    context = {
        "is_home": is_home,
        "map_config": config,
        "eras": config["eras"],
        "default_era": DEFAULT_ERA,
        "kinds": config["kinds"],
        "data_attribution": DATA_ATTRIBUTION,
    }
    return render(request, "maps/map.html", context)


def home(request):
    return _render_map(request, is_home=True)


def map_page(request):
    return _render_map(request, is_home=False)
