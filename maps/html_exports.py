"""The planning maps as standalone HTML files (`format=html` on their APIs):
density, coverage, load and the Decision 766 indicators, each with its
legend, period, generation time and attribution (gisportal/htmlmap.py).
The figures are those the JSON answers give; only the drawing is new."""

import datetime as dt
import json

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gisportal.htmlmap import GOOD_HIGH_COLOURS, MAX_FEATURES, Legend, TooManyFeatures, both, html_map, quantile_breaks
from layers.models import AdministrativeUnit, Era, UnitLevel

# The portal's own records, drawn on the open data it ships (data/bacninh/README.md).
COMMUNES_ATTRIBUTION = "© dvhcvn (MIT), © Marc Choisy (MIT), © Thang Le Quoc (MIT)"


def _attribution(what: str) -> str:
    return f"{what}; {_('commune outlines')} {COMMUNES_ATTRIBUTION}"


def _period(date_from: dt.date, date_to: dt.date) -> str:
    return f"{date_from.isoformat()} – {date_to.isoformat()}"


def communes_outline(*, era: str = Era.POST_2025) -> list[dict]:
    rows = AdministrativeUnit.objects.filter(era=era, level=UnitLevel.COMMUNE).values_list("geom_simplified", "geom")
    return [{"type": "Feature", "geometry": json.loads((simple or full).json)} for simple, full in rows]


def _check_size(features: list, parameter: str) -> None:
    if len(features) > MAX_FEATURES:
        raise TooManyFeatures(parameter=parameter, count=len(features))


def density_html(*, collection: dict, cell: str, res: int, date_from: dt.date, date_to: dt.date) -> bytes:
    features = collection["features"]
    _check_size(features, "res")
    breaks = tuple(collection.get("classes", {}).get("breaks") or ())
    if cell == "commune":
        title = both(gettext_noop("Dossiers received per commune"))
        tooltip = [("name", _("Commune")), ("count", _("Dossiers")), ("rate_per_1000", _("per 1,000 inhabitants"))]
    else:
        title = both(gettext_noop("Dossiers received per H3 cell (resolution %(res)s)"), res=res)
        tooltip = [("cell", _("Cell")), ("count", _("Dossiers"))]
    return html_map(
        title=title,
        features=features,
        legend=Legend(title=_("Dossiers received"), unit=_("quantile classes"), breaks=breaks),
        value="count",
        tooltip=tooltip,
        period=_period(date_from, date_to),
        attribution=_attribution(_("dossiers of the portal (counts only)")),
        boundaries=communes_outline() if cell == "h3" else None,
    )


def coverage_html(*, features: list[dict], kind: str, radius_m: float, on: str | None, era: str) -> bytes:
    breaks = (20.0, 40.0, 60.0, 80.0, 100.0)
    for feature in features:
        share = feature["properties"].get("share")
        feature["properties"]["share_percent"] = None if share is None else round(share * 100, 1)
    return html_map(
        title=both(
            gettext_noop("Population within %(radius)s m of a service point (%(kind)s)"),
            radius=f"{radius_m:,.0f}",
            kind=kind,
        ),
        features=features,
        legend=Legend(title=_("Coverage share"), unit="%", breaks=breaks, colours=GOOD_HIGH_COLOURS),
        value="share_percent",
        tooltip=[
            ("name", _("Commune")),
            ("share_percent", _("Coverage share") + " (%)"),
            ("population", _("Population")),
            ("uncovered_population", _("Uncovered population")),
        ],
        period=f"{_('map of')} {era}" + (f", {on}" if on else ""),
        attribution=_attribution(_("service points of the portal")),
    )


def load_html(*, collection: dict, date_from: dt.date, date_to: dt.date) -> bytes:
    features = collection["features"]
    values = [f["properties"]["received_per_counter_per_day"] for f in features]
    return html_map(
        title=both(gettext_noop("Load of the service points")),
        features=features,
        legend=Legend(
            title=_("Received per counter per working day"),
            unit=_("quantile classes"),
            breaks=quantile_breaks(values),
        ),
        value="received_per_counter_per_day",
        tooltip=[
            ("name", _("Service point")),
            ("received_per_counter_per_day", _("Received per counter per working day")),
            ("received", _("Received")),
            ("counters", _("Counters")),
            ("open_queue", _("Open queue")),
            ("late_share", _("Late share")),
        ],
        period=_period(date_from, date_to),
        attribution=_attribution(_("dossiers of the portal (counts only)")),
        boundaries=communes_outline(),
    )


def indicators_html(*, data: dict, date_from: dt.date, date_to: dt.date) -> bytes:
    """The on-time share per 2025 commune (the indicators page's map)."""
    rows = {row["key"]: row for row in data["rows"] if row["key"]}
    units = AdministrativeUnit.objects.filter(era=Era.POST_2025, level=UnitLevel.COMMUNE).values_list(
        "code", "full_name", "name", "geom_simplified", "geom"
    )
    features = []
    for code, full_name, name, simple, full in units:
        row = rows.get(code, {})
        on_time = ((row.get("indicators") or {}).get("on_time") or {}).get("value")
        online = ((row.get("indicators") or {}).get("online_submission") or {}).get("value")
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads((simple or full).json),
                "properties": {
                    "name": full_name or name,
                    "on_time_percent": None if on_time is None else round(on_time * 100, 1),
                    "online_percent": None if online is None else round(online * 100, 1),
                    "received": row.get("received", 0),
                    "finished": row.get("finished", 0),
                },
            }
        )
    return html_map(
        title=both(gettext_noop("Dossiers done early or on time, per commune (Decision 766)")),
        features=features,
        legend=Legend(
            title=_("Done early or on time (%)"),
            unit="%",
            breaks=(50.0, 70.0, 85.0, 95.0, 100.0),
            colours=GOOD_HIGH_COLOURS,
        ),
        value="on_time_percent",
        tooltip=[
            ("name", _("Commune")),
            ("on_time_percent", _("Done early or on time (%)")),
            ("online_percent", _("Online submission rate (%)")),
            ("received", _("Received")),
            ("finished", _("Finished")),
        ],
        period=_period(date_from, date_to),
        attribution=_attribution(_("dossiers of the portal (counts only)")),
    )
