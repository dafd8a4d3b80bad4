"""The indicator dashboard (/stats/): a period and a grouping, the table of
indicators, two charts and the CSV link. The page is rendered from the same
selector as GET /api/v1/stats/dossiers/, so both always agree."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from gisportal.accounts.selectors import actor_for
from gisportal.api import BadParameters, default_period
from gisportal.messages import in_language

from .stats_apis import indicator_params
from .stats_selectors import dossier_indicators

# The bar chart stays readable on a phone with this many groups; the table lists them all.
CHART_GROUPS = 15


def _group_choices() -> list[dict]:
    return [
        {"key": "none", "label": _("Whole province")},
        {"key": "agency", "label": _("Agency")},
        {"key": "service_point", "label": _("Service point")},
        {"key": "procedure", "label": _("Procedure")},
        {"key": "commune", "label": _("Commune (2025 map)")},
        {"key": "channel", "label": _("Channel")},
        {"key": "month", "label": _("Month")},
    ]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{number_format(value * 100, 1)} %"


def _days(value: float | None) -> str:
    return "—" if value is None else number_format(value, 1)


def _shown(row: dict) -> dict:
    """A row with its rates written for people."""
    return {
        **row,
        # Group labels such as "Toàn tỉnh / Whole province" or a channel: the page's half.
        "label": in_language(row["label"]) if "label" in row else "",
        "online_share_text": _percent(row["online_share"]),
        "early_rate_text": _percent(row["early_rate"]),
        "on_time_rate_text": _percent(row["on_time_rate"]),
        "late_rate_text": _percent(row["late_rate"]),
        "avg_processing_days_text": _days(row["avg_processing_days"]),
    }


def _strings() -> dict[str, str]:
    return {
        "early": _("Early"),
        "onTime": _("On time"),
        "late": _("Late"),
        "received": _("Dossiers received"),
        "onlineShare": _("Online share (%)"),
        "dossiers": _("Dossiers"),
    }


@login_required
def stats_dashboard(request):
    if not actor_for(request.user).is_official:
        raise PermissionDenied(_("Only officials may see the indicators."))
    errors: dict = {}
    try:
        group_by, date_from, date_to, _format = indicator_params(request.GET)
    except BadParameters as error:
        errors = {name: [str(m) for m in messages] for name, messages in error.detail.items()}
        group_by = "none"
        date_from, date_to = default_period(timezone.localdate())
    data = dossier_indicators(group_by=group_by, date_from=date_from, date_to=date_to)
    monthly = data
    if group_by != "month":
        monthly = dossier_indicators(group_by="month", date_from=date_from, date_to=date_to)
    query = {"group_by": group_by, "from": date_from.isoformat(), "to": date_to.isoformat()}
    groups = data["rows"][:CHART_GROUPS] if group_by != "month" else data["rows"]
    config = {
        "strings": _strings(),
        "groups": {
            "labels": [in_language(row["label"]) for row in groups],
            "early": [row["early"] for row in groups],
            "onTime": [row["on_time"] for row in groups],
            "late": [row["late"] for row in groups],
        },
        "months": {
            "labels": [row["key"] for row in monthly["rows"]],
            "received": [row["received"] for row in monthly["rows"]],
            "onlineShare": [
                None if row["online_share"] is None else round(row["online_share"] * 100, 1) for row in monthly["rows"]
            ],
        },
    }
    context = {
        "data": data,
        "rows": [_shown(row) for row in data["rows"]],
        "totals": _shown(data["totals"]),
        "group_choices": _group_choices(),
        "group_by": group_by,
        "group_label": next(c["label"] for c in _group_choices() if c["key"] == group_by),
        "date_from": date_from,
        "date_to": date_to,
        "errors": errors,
        "csv_url": f"{reverse('api-stats-dossiers')}?{urlencode({**query, 'format': 'csv'})}",
        "json_url": f"{reverse('api-stats-dossiers')}?{urlencode(query)}",
        "chart_groups": CHART_GROUPS,
        "chart_truncated": group_by != "month" and len(data["rows"]) > CHART_GROUPS,
        "stats_config": config,
    }
    return render(request, "dossiers/stats_dashboard.html", context, status=400 if errors else 200)
