"""A standalone HTML map (folium) that a planner can e-mail and that opens
offline: Leaflet's JS and CSS are written into the file (its marker images
as data: URIs), folium's CDN links (Leaflet, jQuery, Bootstrap, Font
Awesome, awesome-markers) are dropped, and nothing else is referenced, so
the file makes no request when opened. There are no base tiles: communes are
drawn as a layer instead (see docs/decisions.md, "Offline assets").

Each map carries a bilingual title (the requested language first), a legend
(the colour classes with their bounds and unit, or the symbol of a layer),
the period, the time it was generated and the data's attribution/licence.

Property values are HTML-escaped before they reach the file: folium's
tooltips write them with innerHTML.

Bounded in size by the callers: commune outlines are the stored
`geom_simplified` (~50 m), registry features go through
ST_SimplifyPreserveTopology (SIMPLIFY_TOLERANCE_DEG) and at most
MAX_FEATURES are drawn (more is a 413 naming the parameter to narrow)."""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import folium
import shapely
from branca.element import Template
from django.conf import settings
from django.http import HttpResponse
from django.template import Context, Engine
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException

from gisportal.downloads import content_disposition
from gisportal.messages import message

HTML_CONTENT_TYPE = "text/html; charset=utf-8"
MAX_FEATURES = 10_000
# ~11 m at Bắc Ninh's latitude: below what a map of the province shows.
SIMPLIFY_TOLERANCE_DEG = 0.0001
# ColorBrewer YlOrRd, 5 classes (colour-blind safe, prints in grey).
CLASS_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
# ColorBrewer RdYlGn, 5 classes: for figures where more is better (coverage, on time).
GOOD_HIGH_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_DATA_COLOUR = "#d9d9d9"
POINT_COLOUR = "#2166ac"
BOUNDARY_COLOUR = "#737373"
LEAFLET_DIR = Path(settings.BASE_DIR) / "static" / "vendor" / "leaflet"


class TooManyFeatures(APIException):
    """413 naming the parameter to narrow: the HTML map holds at most
    MAX_FEATURES features (the file formats have no such bound)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_many_features"

    def __init__(self, *, parameter: str, count: int, limit: int = MAX_FEATURES):
        super().__init__(
            detail={
                parameter: [
                    message(
                        f"Bản đồ HTML tối đa {limit:,} đối tượng ({count:,} khớp): thu hẹp bằng bbox "
                        "hoặc bộ lọc trường, hoặc chọn format=gpkg, geojson hay csv.",
                        f"The HTML map holds at most {limit:,} features ({count:,} match): narrow with "
                        "bbox or field filters, or choose format=gpkg, geojson or csv.",
                    )
                ]
            }
        )


@dataclass(frozen=True)
class Legend:
    """Colour classes by upper bound (`breaks`, ascending): class i holds
    values in (breaks[i-1], breaks[i]]. No breaks: one symbol (`label`)."""

    title: str
    unit: str = ""
    breaks: tuple[float, ...] = ()
    label: str = ""
    colours: tuple[str, ...] = field(default=CLASS_COLOURS)

    def colour(self, value: float | None) -> str:
        if not self.breaks:
            return POINT_COLOUR
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return NO_DATA_COLOUR
        for bound, colour in zip(self.breaks, self._palette(), strict=False):
            if value <= bound:
                return colour
        return self._palette()[-1]

    def _palette(self) -> tuple[str, ...]:
        # Fewer classes than colours: spread them over the whole ramp.
        n = len(self.breaks)
        if n >= len(self.colours):
            return self.colours
        step = (len(self.colours) - 1) / max(n - 1, 1)
        return tuple(self.colours[round(i * step)] for i in range(n))

    def rows(self) -> list[dict]:
        if not self.breaks:
            return [{"colour": POINT_COLOUR, "label": self.label}]
        rows, low = [], None
        for bound, colour in zip(self.breaks, self._palette(), strict=False):
            text = f"≤ {_number(bound)}" if low is None else f"{_number(low)} – {_number(bound)}"
            rows.append({"colour": colour, "label": text})
            low = bound
        rows.append({"colour": NO_DATA_COLOUR, "label": _("no data")})
        return rows


def quantile_breaks(values: list[float], *, classes: int = 5) -> tuple[float, ...]:
    """Upper bounds of up to `classes` quantile classes of the known values
    (repeated bounds merged, the last the maximum)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return ()
    n = len(known)
    return tuple(sorted({known[-(-i * n // classes) - 1] for i in range(1, classes + 1)}))


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


@cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS as shipped in static/vendor/leaflet (its licence
    beside it), the CSS's images inlined as data: URIs."""
    script = (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    script = re.sub(r"//# sourceMappingURL=\S+", "", script)
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        data = (LEAFLET_DIR / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return script.replace("</", "<\\/"), css


class _Raw(folium.Element):
    """Text put into the page as it is. folium.Element would compile its text
    as a Jinja template: seconds for Leaflet's 150 KB of minified JS."""

    _template = Template("{{ this.content }}")

    def __init__(self, content: str):
        super().__init__()
        self.content = content


_HEADER = Engine(autoescape=True).from_string(
    """<div class="gp-box gp-title"><h1>{{ title }}</h1><p class="gp-other">{{ other_title }}</p>
<p>{{ period_label }}: {{ period }}</p></div>
<div class="gp-box gp-legend"><h2>{{ legend.title }}{% if legend.unit %} ({{ legend.unit }}){% endif %}</h2>
<ul>{% for row in rows %}<li><span class="gp-swatch" style="background:{{ row.colour }}"></span>{{ row.label }}</li>
{% endfor %}</ul>
<p class="gp-meta">{{ generated_label }}: {{ generated }}<br>{{ source_label }}: {{ attribution }}</p></div>
<style>
.gp-box{position:absolute;z-index:1000;background:#fff;padding:6px 10px;border-radius:4px;
box-shadow:0 1px 4px rgba(0,0,0,.4);font:13px/1.35 system-ui,sans-serif;max-width:min(90vw,360px)}
.gp-title{top:10px;left:50px}.gp-title h1{font-size:16px;margin:0}.gp-title p{margin:2px 0}
.gp-other{color:#555}.gp-legend{bottom:20px;right:10px}.gp-legend h2{font-size:13px;margin:0 0 4px}
.gp-legend ul{list-style:none;margin:0;padding:0}.gp-swatch{display:inline-block;width:14px;height:14px;
margin-right:6px;vertical-align:middle;border:1px solid #999}.gp-meta{font-size:11px;color:#444;margin:4px 0 0}
@media (max-width:480px){.gp-title{left:45px;right:10px}.gp-legend{max-width:60vw}}
</style>"""
)


def _escaped(properties: dict, keys: list[str]) -> dict:
    out = {}
    for key in keys:
        value = properties.get(key)
        if isinstance(value, str):
            value = html.escape(value)
        elif isinstance(value, float) and not value.is_integer():
            value = round(value, 3)
        elif isinstance(value, dict | list):
            value = html.escape(str(value))
        out[key] = value
    return out


def html_map(
    *,
    title: tuple[str, str],
    features: list[dict],
    legend: Legend,
    value: str | None,
    tooltip: list[tuple[str, str]],
    period: str,
    attribution: str,
    boundaries: list[dict] | None = None,
) -> bytes:
    """The map as one self-contained HTML file.

    title: (Vietnamese, English); the active language's comes first.
    features: GeoJSON Features (EPSG:4326), coloured by `properties[value]`
      through `legend`, or all in one colour when `value` is None.
    tooltip: (property, label) pairs shown on hover.
    boundaries: GeoJSON Features drawn as grey outlines under the data (the
      communes, for maps of points without base tiles)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    first, other = (title[1], title[0]) if language.startswith("en") else title
    keys = [name for name, _label in tooltip]
    clean = []
    for feature in features:
        if not feature.get("geometry"):
            continue
        props = feature.get("properties") or {}
        row = _escaped(props, keys)
        row["_colour"] = legend.colour(props.get(value)) if value else POINT_COLOUR
        clean.append({"type": "Feature", "geometry": feature["geometry"], "properties": row})

    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    # folium's CDN links would leave a blank page offline: none at all, Leaflet inlined below.
    fmap.default_js = []
    fmap.default_css = []
    script, css = _leaflet_assets()
    header = fmap.get_root().header
    header.add_child(_Raw(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(_Raw(f"<script>{script}</script>"), name="leaflet_js")
    header.add_child(_Raw(f"<title>{html.escape(first)}</title>"), name="title")
    fmap.get_root().html.add_child(_Raw(_header_html(first, other, legend, period, attribution)))

    if boundaries:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [{**b, "properties": {}} for b in boundaries if b["geometry"]]},
            name="boundaries",
            style_function=lambda _f: {"color": BOUNDARY_COLOUR, "weight": 0.7, "fillOpacity": 0},
            interactive=False,
        ).add_to(fmap)
    if clean:
        aliases = [html.escape(label) for _name, label in tooltip]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": clean},
            name="data",
            style_function=lambda f: {
                "fillColor": f["properties"]["_colour"],
                "color": "#444" if value else f["properties"]["_colour"],
                "weight": 0.6 if value else 2,
                "fillOpacity": 0.75,
            },
            marker=folium.CircleMarker(radius=6, fill=True, weight=1),
            tooltip=folium.GeoJsonTooltip(fields=keys, aliases=aliases) if keys else None,
        ).add_to(fmap)
        # GEOS reads the collection in one call (as a GeometryCollection).
        west, south, east, north = shapely.from_geojson(
            json.dumps({"type": "FeatureCollection", "features": clean})
        ).bounds
        fmap.fit_bounds([[south, west], [north, east]])
    else:
        # Nothing to draw: the province.
        fmap.fit_bounds([[20.95, 105.9], [21.3, 106.35]])
    return fmap.get_root().render().encode("utf-8")


def _header_html(first: str, other: str, legend: Legend, period: str, attribution: str) -> str:
    return _HEADER.render(
        Context(
            {
                "title": first,
                "other_title": other,
                "period_label": _("Period"),
                "period": period,
                "legend": legend,
                "rows": legend.rows(),
                "generated_label": _("Generated"),
                "generated": timezone.localtime().strftime("%Y-%m-%d %H:%M %Z"),
                "source_label": _("Data"),
                "attribution": attribution,
            }
        )
    )


def both(msgid: str, **params: Any) -> tuple[str, str]:
    """(Vietnamese, English) of a message marked with gettext_noop."""
    texts = []
    for language in ("vi", "en"):
        with translation.override(language):
            texts.append(_(msgid) % params if params else _(msgid))
    return texts[0], texts[1]


def html_map_response(body: bytes, *, filename: str) -> HttpResponse:
    """The file as a download (attachment). It keeps its HTML type, unlike
    other HTML (gisportal/downloads.py), because it is meant to be opened;
    `Content-Security-Policy: sandbox` makes the portal's origin unreachable
    from it should a browser render it in place, and its policy allows no
    request at all."""
    response = HttpResponse(body, content_type=HTML_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
        "style-src 'unsafe-inline'; img-src data:"
    )
    response["Cache-Control"] = "private, no-store"
    return response
