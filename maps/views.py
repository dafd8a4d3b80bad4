"""The public map pages and the registry upload page. A page is static HTML
plus one JSON config block; every layer is fetched by the browser from the
API and the vector tiles, so the map shows exactly what API clients see."""

import datetime as dt
import json
import secrets
import threading
import zlib
from collections import OrderedDict
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import GEOSGeometry
from django.core.signals import setting_changed
from django.db import connections, router
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie

from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams
from gisportal.messages import in_language
from gisportal.spreadsheets import SafeCsvWriter
from layers.models import GeometryType, ImportJob, Layer
from layers.registries.selectors import (
    layer_can_edit,
    layer_get_for_user,
    layer_visible_to,
    layers_editable_ids,
    layers_visible_to,
)
from layers.registries.tiles import TILEJSON_MAX_ZOOM

from .basemap import DATA_ATTRIBUTION, xyz_tiles

# The 2025 arrangement of communes took effect on this day; the 2019 one is
# shown as it stood on a day well inside its term.
ERA_2025_START = dt.date(2025, 7, 1)
ERA_2019_SAMPLE_DAY = dt.date(2024, 1, 1)
DEFAULT_ERA = "2025"


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
        "registryCluster": _("{count} features here. Zoom in to see them one by one."),
        "yes": _("Yes"),
        "no": _("No"),
        "nearestNoneProcedure": _("No service point of this type accepts this procedure."),
        "procedureChosen": _("{name} ({code})"),
        "procedureNone": _("No procedure matches."),
        "openingState": _("Opening"),
        "hoursUnknown": _("Opening hours unknown"),
        "openNow": _("Open"),
        "openUntil": _("Open, closes {time}"),
        "closedOpens": _("Closed, opens {time}"),
        "closedNoOpening": _("Closed, no opening in the next two months"),
        "load": _("Load"),
        "loadLine": _("{open} open dossiers ({perCounter} per counter)"),
        "wait": _("Estimated wait"),
        "waitLine": _("wait about {minutes} min"),
        "score": _("Distance with queue"),
        "scoreLine": _("Distance with queue: {score}"),
        "rankingOpenAt": _("At {time}:"),
        "rankingDistance": _("open points first, then the nearest."),
        "rankingBalanced": _("open points first, then by distance plus {penalty} m for each open dossier per counter."),
        "waitModel": _(
            "Waits are estimates from the dossier records (dossiers still at the desk per counter × the desk's "
            "recent handling time), at least 5 minutes."
        ),
        # Translators: OpenStreetMap day codes = the short day names to show.
        "days": _("Mo=Mon,Tu=Tue,We=Wed,Th=Thu,Fr=Fri,Sa=Sat,Su=Sun"),
    }


def _edit_strings() -> dict[str, str]:
    """Texts of the feature editor (registries.js), shown only to editors."""
    return {
        "edit": _("Edit"),
        "move": _("Move"),
        "delete": _("Delete"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "close": _("Close"),
        "addPoint": _("Add point"),
        "editTools": _("Registry editing tools"),
        "addToLayer": _("Layer to add to"),
        "editTitle": _("Edit feature"),
        "moveTitle": _("Move point"),
        "addTitle": _("New point"),
        "featureNumber": _("{layer}, feature no. {id}"),
        "pickNewPoint": _("Click or tap the map where the new point goes."),
        "pickMove": _("Drag the marker, or click or tap the new place on the map, then save."),
        "position": _("Position: {lat}, {lon}"),
        "confirmDelete": _("Delete this feature of “{layer}”? The change is recorded with your name."),
        "loadingFeature": _("Loading the feature…"),
        "saved": _("Saved."),
        "added": _("Point added."),
        "moved": _("Point moved."),
        "deleted": _("Feature deleted."),
        "notNumber": _("Enter a number."),
        "notInteger": _("Enter a whole number."),
        "required": _("A value is required."),
        "noValue": _("(no value)"),
        "fixFields": _("Check the marked fields."),
        "forbidden": _("Not allowed: {message}"),
        "notFound": _("This feature no longer exists, or you may no longer see its layer."),
        "signIn": _("Your session has ended. Sign in again, then retry."),
        "cannotMove": _("Only single points can be moved here."),
    }


def base_tiles() -> dict | None:
    """The operator's raster tiles (BASE_MAP_KIND=xyz), else None: the portal
    must work offline, and its own context layer (maps.basemap) makes every
    map readable. Kept in the pages' configs; basemap.js draws them."""
    return xyz_tiles()


# Layers the editor can add points to (a single point becomes a one-part MultiPoint).
POINT_TYPES = frozenset({GeometryType.POINT, GeometryType.MULTIPOINT})

# Distinct hues for registry layers, none of them the service points' colours.
REGISTRY_COLOURS = ["#7b3fa0", "#1f7a4d", "#b5477d", "#8a5a00", "#00788a", "#5b6b00", "#a63a14"]


# Labels of the domain are written "Tiếng Việt / English": the page's half,
# through the one helper every page uses (also `|in_language` in templates).
_in_language = in_language


def _tile_template(layer: Layer) -> str:
    # reverse() needs numbers; Leaflet fills the placeholders.
    first = reverse("registry-tile", kwargs={"slug": layer.slug, "z": 0, "x": 0, "y": 0})
    return first.removesuffix("0/0/0.pbf") + "{z}/{x}/{y}.pbf"


def _lat_lng_bounds(layer: Layer) -> list[list[float]] | None:
    if layer.extent is None:
        return None
    west, south, east, north = layer.extent.extent
    return [[south, west], [north, east]]


def _field(spec: dict) -> dict:
    field = {
        "name": spec["name"],
        "label": _in_language(spec.get("title") or spec["name"]),
        "type": spec.get("type", "string"),
    }
    if spec.get("required"):  # as in the layer's schema: said only when true
        field["required"] = True
    return field


def _registry(layer: Layer, *, editable: bool) -> dict:
    return {
        "slug": layer.slug,
        "title": _in_language(layer.title),
        "geometryType": layer.geometry_type,
        "attribution": layer.attribution,
        "tiles": _tile_template(layer),
        "maxNativeZoom": TILEJSON_MAX_ZOOM,
        # By slug, so a layer keeps its colour when others are added.
        "colour": REGISTRY_COLOURS[zlib.crc32(layer.slug.encode()) % len(REGISTRY_COLOURS)],
        "bounds": _lat_lng_bounds(layer),
        "fields": [_field(f) for f in layer.schema if f.get("name")],
        # The page only offers what the API would accept; the API decides again on every call.
        "editable": editable,
        "featuresApi": reverse("registry-layer-features", args=[layer.slug]) if editable else None,
    }


_LAYERS_SQL = (
    "SELECT id, slug, title, geometry_type, attribution, schema, ST_AsEWKB(extent), visibility, owner_id"
    " FROM layers_layer ORDER BY title"
)


def _layers_read_plainly(actor) -> list:
    """`layers_visible_to(actor)` ordered by title, for a visitor who is not
    signed in: one plain statement and `layer_visible_to`'s rule in Python
    (the ORM's compiling and building of whole layers cost more than the
    query), each layer with what `_registry` reads of it."""
    with connections[router.db_for_read(Layer)].cursor() as cursor:
        cursor.execute(_LAYERS_SQL)
        rows = cursor.fetchall()
    layers = []
    for pk, slug, title, geometry_type, attribution, schema, extent, visibility, owner_id in rows:
        if not layer_visible_to(actor, layer_id=pk, visibility=visibility, owner_id=owner_id):
            continue
        if isinstance(schema, str):  # json, not jsonb, on some set-ups
            schema = json.loads(schema)
        layers.append(
            SimpleNamespace(
                pk=pk,
                slug=slug,
                title=title,
                geometry_type=geometry_type,
                attribution=attribution,
                schema=schema,
                extent=GEOSGeometry(memoryview(extent)) if extent is not None else None,
                owner_id=owner_id,
            )
        )
    return layers


def _registries(request) -> tuple[list[dict], list[str]]:
    """The registry layers this visitor may see, and those `?layers=a,b` asks
    to switch on (unknown or invisible names are ignored, like any layer the
    visitor may not see)."""
    actor = actor_for(request.user)
    if actor.user_id is None:
        visible = _layers_read_plainly(actor)
        editable: set[int] = set()  # layers_editable_ids: nothing without an account
    else:
        visible = list(layers_visible_to(actor).order_by("title"))
        editable = layers_editable_ids(actor=actor, layers=visible)
    layers = [_registry(layer, editable=layer.pk in editable) for layer in visible]
    asked = {slug for slug in request.GET.get("layers", "").split(",") if slug}
    return layers, [layer["slug"] for layer in layers if layer["slug"] in asked]


def _editing(request, registries: list[dict]) -> dict | None:
    """What the editor needs to call the API with the session: the CSRF
    token (the script prefers the cookie, which stays current if the user
    signs in again in another tab). None when nothing here is editable."""
    if not any(layer["editable"] for layer in registries):
        return None
    return {
        "csrfToken": get_token(request),
        "csrfCookieName": settings.CSRF_COOKIE_NAME,
        "strings": _edit_strings(),
    }


def _focus_bounds(registries: list[dict], shown: list[str]) -> list[list[float]] | None:
    """The map opens on the layers asked for, instead of the whole province."""
    boxes = [layer["bounds"] for layer in registries if layer["slug"] in shown and layer["bounds"]]
    if not boxes:
        return None
    return [
        [min(b[0][0] for b in boxes), min(b[0][1] for b in boxes)],
        [max(b[1][0] for b in boxes), max(b[1][1] for b in boxes)],
    ]


def _near(request) -> list[float] | None:
    """?near=LON,LAT: a point to search the nearest service points from
    when the page opens (links from the Zalo chat); ignored when malformed."""
    params = QueryParams(request.GET)
    point = params.lon_lat("near")
    return None if params.errors or point is None else [point[0], point[1]]


def _map_config(request) -> dict:
    registries, shown = _registries(request)
    return {
        "language": get_language(),
        "api": {
            "adminUnits": reverse("admin-unit-list"),
            "servicePoints": reverse("service-point-list"),
            "nearest": reverse("service-point-nearest"),
            "procedures": reverse("api-procedure-list"),
        },
        "timeZone": settings.TIME_ZONE,
        "eras": _eras(),
        "defaultEra": DEFAULT_ERA,
        "kinds": _kinds(),
        "nearestLimit": NEAREST_LIMIT,
        "attribution": DATA_ATTRIBUTION,
        "tiles": base_tiles(),
        "registries": registries,
        "shownRegistries": shown,
        "focusBounds": _focus_bounds(registries, shown),
        "near": _near(request),
        "editing": _editing(request, registries),
        "strings": _strings(),
    }


def _render_map(request, *, is_home: bool):
    config = _map_config(request)
    editable = [layer for layer in config["registries"] if layer["editable"]]
    context = {
        "is_home": is_home,
        "map_config": config,
        "eras": config["eras"],
        "default_era": DEFAULT_ERA,
        "kinds": config["kinds"],
        "registries": config["registries"],
        "editable_registries": editable,
        "can_add_points": any(layer["geometryType"] in POINT_TYPES for layer in editable),
        "data_attribution": DATA_ATTRIBUTION,
    }
    if request.user.is_authenticated:
        return render(request, "maps/map.html", context)
    return _anonymous_page(request, context)


# --- the page as every visitor who is not signed in gets it ---------------------
#
# For such a visitor the page is a function of its context (above: the
# language, the day, the layers anyone may see, the query string), the path
# and what is fixed while the process runs (templates, translations, the
# static files' manifest, settings): the same shell for everyone, but for the
# CSRF token of the language switch, which differs on every answer. So the
# page is rendered once per distinct context with a placeholder where the
# token goes, and each answer is that text with this request's token put in
# (Django's own `get_token`, as the {% csrf_token %} tag calls it). The key
# is the context itself: a change of any of its inputs (a layer renamed, the
# next day's date, the language) is another key, not a stale page.

_CSRF_PLACEHOLDER = "csrf-placeholder-" + secrets.token_hex(16)
_PAGES_KEPT = 32  # distinct contexts (languages x query strings x days): oldest dropped first
_pages: OrderedDict[tuple, str] = OrderedDict()
_pages_lock = threading.Lock()


def _anonymous_page(request, context: dict) -> HttpResponse:
    key = (
        get_language(),
        request.path,
        request.get_full_path(),
        json.dumps(context, sort_keys=True, ensure_ascii=False, default=str),
    )
    with _pages_lock:
        text = _pages.get(key)
    if text is None:
        response = render(request, "maps/map.html", {**context, "csrf_token": _CSRF_PLACEHOLDER})
        text = response.content.decode(response.charset)
        with _pages_lock:
            _pages[key] = text
            while len(_pages) > _PAGES_KEPT:
                _pages.popitem(last=False)
    return HttpResponse(text.replace(_CSRF_PLACEHOLDER, get_token(request)))


def _forget_pages(**kwargs) -> None:
    # Tests change settings (base map, static storage, languages) between requests.
    with _pages_lock:
        _pages.clear()


setting_changed.connect(_forget_pages)


# The editor's API calls send the CSRF token; the cookie must exist for them.
@ensure_csrf_cookie
def home(request):
    return _render_map(request, is_home=True)


@ensure_csrf_cookie
def map_page(request):
    return _render_map(request, is_home=False)


# --- Registry upload -----------------------------------------------------------

UPLOAD_POLL_MS = 500
UPLOAD_ACCEPT = ".gpkg,.zip,.geojson,.json,.kml,.csv"


def _upload_strings() -> dict[str, str]:
    return {
        "uploading": _("Uploading the file… {percent}%"),
        "queued": _("Waiting for the import to start…"),
        "queuedWaiting": _(
            "Queued, waiting for the worker: the task queue cannot be reached right now. "
            "The import starts by itself once it is back."
        ),
        "requeued": _("The worker stopped during the import; it will run again (attempt {attempt} of {max})."),
        "running": _("Importing: {done} of {total} rows…"),
        "runningUnknown": _("Importing: {done} rows so far…"),
        "succeeded": _("Import finished: {message}"),
        "failed": _("Import failed: {message}"),
        "requestFailed": _("The request failed: {message}"),
        "networkError": _("The server could not be reached. Check your connection and try again."),
        "chooseFile": _("Choose a file to upload."),
        "confirmReplace": _("Tick the box to confirm that the layer's features are to be replaced."),
    }


@login_required
def registry_upload(request):
    """Officials upload a file into a layer they may edit and watch the import."""
    actor = actor_for(request.user)
    visible = list(layers_visible_to(actor).order_by("title"))
    editable_ids = layers_editable_ids(actor=actor, layers=visible)
    editable = [
        {
            "slug": layer.slug,
            "title": _in_language(layer.title),
            "import_url": reverse("layer-import", kwargs={"slug": layer.slug}),
            "template_url": reverse("registry-upload-template", kwargs={"slug": layer.slug}),
            "map_url": f"{reverse('map')}?layers={layer.slug}",
            "feature_count": layer.feature_count,
        }
        for layer in visible
        if layer.pk in editable_ids
    ]
    config = {
        "language": get_language(),
        "pollMs": UPLOAD_POLL_MS,
        "strings": _upload_strings(),
    }
    context = {
        "layers": editable,
        # Adding is the default; replacing deletes every feature, so the page
        # asks for a confirmation first (static/maps/upload.js).
        "modes": [
            {"key": ImportJob.Mode.APPEND, "label": _("Add to the features already there")},
            {"key": ImportJob.Mode.REPLACE, "label": _("Replace all features of the layer")},
        ],
        "accept": UPLOAD_ACCEPT,
        "upload_config": config,
    }
    return render(request, "maps/registry_upload.html", context)


@login_required
def registry_upload_template(request, slug: str):
    """A CSV with just the header the import reads for this layer: the
    geometry columns (lon/lat for a point layer, else WKT) and the layer's
    schema fields. Only for a layer the caller may edit; 404 otherwise."""
    actor = actor_for(request.user)
    layer = layer_get_for_user(actor=actor, slug=slug)
    if not layer_can_edit(actor=actor, layer=layer):
        raise Http404
    geometry = ["lon", "lat"] if layer.geometry_type == GeometryType.POINT else ["wkt"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{layer.slug}-template.csv"'
    response.write("\ufeff")  # a BOM: spreadsheets then read the Vietnamese names right
    SafeCsvWriter(response).writerow([*geometry, *(f["name"] for f in layer.schema if f.get("name"))])
    return response
