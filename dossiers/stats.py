"""Incremental indicator counts (`DailyStat`): written in the transaction
that receives or finishes a dossier, rebuilt in one statement after bulk
loads. The indicator API reads only these rows."""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from .models import Channel, DailyStat, Dossier

_MEASURES = ("received", "online", "finished", "early", "on_time", "late", "processing_days_sum")


def _keys(dossier: Dossier, *, agency_id: int) -> list[tuple[str, int]]:
    D = DailyStat.Dimension
    return [
        (D.ALL, 0),
        (D.AGENCY, agency_id),
        (D.SERVICE_POINT, dossier.receiving_point_id),
        (D.PROCEDURE, dossier.procedure_id),
        (D.COMMUNE, dossier.applicant_commune_id or 0),
        (D.CHANNEL, int(dossier.channel)),
    ]


def _add(day: dt.date, keys: list[tuple[str, int]], *, province_code: str, **measures: int) -> None:
    values = [measures.get(m, 0) for m in _MEASURES]
    rows = ", ".join(["(%s, %s, %s, %s, " + ", ".join(["%s"] * len(_MEASURES)) + ")"] * len(keys))
    params: list = []
    # Always the same key order, so two transactions lock rows in one order.
    for dimension, key in sorted(keys):
        params += [province_code, day, dimension, key, *values]
    updates = ", ".join(f"{m} = s.{m} + EXCLUDED.{m}" for m in _MEASURES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO dossiers_dailystat AS s (province_code, day, dimension, key, {', '.join(_MEASURES)}) "
            f"VALUES {rows} ON CONFLICT (dimension, key, day, province_code) DO UPDATE SET {updates}",
            params,
        )


def count_received(dossier: Dossier) -> None:
    _add(
        timezone.localtime(dossier.received_at).date(),
        # Receipts stay with the agency that had the dossier then, finishes go
        # to the one that finished it: a transfer moves neither count.
        _keys(dossier, agency_id=dossier.receiving_agency_id or dossier.agency_id),
        province_code=dossier.province_code,
        received=1,
        online=int(dossier.channel == Channel.ONLINE),
    )


def count_finished(dossier: Dossier) -> None:
    _add(
        timezone.localtime(dossier.finished_at).date(),
        _keys(dossier, agency_id=dossier.agency_id),
        province_code=dossier.province_code,
        finished=1,
        early=int(dossier.timeliness == "early"),
        on_time=int(dossier.timeliness == "on_time"),
        late=int(dossier.timeliness == "late"),
        processing_days_sum=dossier.processing_working_days or 0,
    )


# dimension: (column for receipts, column for finishes)
_DIMENSION_COLUMNS = {
    "all": ("0", "0"),
    "agency": ("coalesce(receiving_agency_id, agency_id)", "agency_id"),
    "service_point": ("receiving_point_id",) * 2,
    "procedure": ("procedure_id",) * 2,
    "commune": ("coalesce(applicant_commune_id, 0)",) * 2,
    "channel": ("channel",) * 2,
}


def stats_rebuild() -> int:
    """Recomputes every DailyStat row from the dossiers (after COPY loads;
    `manage.py stats_rebuild`). Receipts and finishes wait for it (the table
    is locked against writes) instead of adding to rows it replaces."""
    tz = timezone.get_current_timezone_name()
    parts = []
    for dimension, (received_column, finished_column) in _DIMENSION_COLUMNS.items():
        parts.append(
            f"""SELECT province_code, (received_at AT TIME ZONE %(tz)s)::date AS day, '{dimension}' AS dimension,
                       {received_column} AS key,
                       1 AS received, (channel = {int(Channel.ONLINE)})::int AS online,
                       0 AS finished, 0 AS early, 0 AS on_time, 0 AS late, 0 AS processing_days_sum
                FROM dossiers_dossier WHERE received_at IS NOT NULL
                UNION ALL
                SELECT province_code, (finished_at AT TIME ZONE %(tz)s)::date, '{dimension}', {finished_column},
                       0, 0, 1, (timeliness = 'early')::int, (timeliness = 'on_time')::int, (timeliness = 'late')::int,
                       coalesce(processing_working_days, 0)
                FROM dossiers_dossier WHERE finished_at IS NOT NULL"""
        )
    measures = ", ".join(f"sum({m})" for m in _MEASURES)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE dossiers_dailystat IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM dossiers_dailystat")
        cursor.execute(
            f"INSERT INTO dossiers_dailystat (province_code, day, dimension, key, {', '.join(_MEASURES)}) "
            f"SELECT province_code, day, dimension, key, {measures} FROM ({' UNION ALL '.join(parts)}) AS facts "
            "GROUP BY province_code, day, dimension, key",
            {"tz": tz},
        )
        return cursor.rowcount
