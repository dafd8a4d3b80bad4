"""Pre-counted dossier density (`DensityCount`): dossiers per month of
receipt, area (H3 cell or commune of either map) and at most one filter or
pair of filters; and `DensityDayCount`, dossiers per day and area for the
filters a status move does not touch (`DAY_DIMENSIONS`), for the edge days
of periods that do not fall on month boundaries; and `DensityQuarterCount`,
the same filters' month rows summed per quarter once the quarter has ended
(`density_quarters_close`), so a long period reads a row a quarter.

Written in the transaction that receives a dossier (+1 on every row it
belongs to) or moves it to another status (-1 on the old status row, +1 on
the new one), and rebuilt in one statement per area after bulk loads. The
density map (`maps.density`) sums these rows for the whole months of a
period and the day rows (or, with a status filter, the dossiers themselves)
for the days at its edges, so its cost follows days x cells, not the number
of dossiers.

Which filters are pre-counted, per area: every single one (procedure, which
also answers a sector; channel; status) and every pair of them (procedure
and channel, procedure and status, channel and status: `PAIRS`) for H3
resolutions 6-8 and both commune maps; only the unfiltered count at
resolution 9, whose cells are so small that a row per procedure would be
nearly a row per dossier. Anything else (all three filters at once,
resolution 9 with a filter) is counted from the dossiers."""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from gisportal.api import month_start

from .models import H3_RESOLUTIONS, Channel, Dossier, Status

ALL, PROCEDURE, CHANNEL, STATUS = "all", "procedure", "channel", "status"
# Two filters at once; `key` is pair_key(first, second).
PROC_CHAN, PROC_STAT, CHAN_STAT = "proc_chan", "proc_stat", "chan_stat"
PAIRS: dict[str, tuple[str, str]] = {
    PROC_CHAN: (PROCEDURE, CHANNEL),
    PROC_STAT: (PROCEDURE, STATUS),
    CHAN_STAT: (CHANNEL, STATUS),
}
DIMENSIONS = (ALL, PROCEDURE, CHANNEL, STATUS, *PAIRS)
# Also counted per day: a dossier's row of these never changes once it is received.
DAY_DIMENSIONS = (ALL, PROCEDURE, CHANNEL, PROC_CHAN)
# The second key of a pair (a channel or a status key) is below this.
PAIR_BASE = 64


def pair_key(first: int, second: int) -> int:
    return first * PAIR_BASE + second


def components(dimension: str) -> tuple[str, ...]:
    """The single filters a dimension combines (none for ALL)."""
    return PAIRS.get(dimension, () if dimension == ALL else (dimension,))


COMMUNES_2025, COMMUNES_2019 = 2025, 2019

# area -> (dossier column holding the cell, the dimensions pre-counted)
AREAS: dict[int, tuple[str, tuple[str, ...]]] = {
    **{res: (f"h3_r{res}", DIMENSIONS if res < 9 else (ALL,)) for res in H3_RESOLUTIONS},
    COMMUNES_2025: ("applicant_commune_id", DIMENSIONS),
    COMMUNES_2019: ("applicant_commune_2019_id", DIMENSIONS),
}

# Status as a number in the `key` column. Append new statuses at the end (and
# run `manage.py density_rebuild` after changing this).
STATUS_KEYS = {status: i for i, status in enumerate(Status.values, start=1)}
assert max(STATUS_KEYS.values()) < PAIR_BASE and max(Channel.values) < PAIR_BASE, "pair keys would collide"


# The commune of the 2019 map a point lies in: the first by code where two
# outlines overlap by a sliver along a shared border, so each dossier has one.
_COMMUNE_2019_SQL = """SELECT u.id FROM layers_administrativeunit u
    WHERE u.era = '2019' AND u.level = 'commune' AND ST_Intersects(u.geom, {point})
    ORDER BY u.code LIMIT 1"""


def commune_2019_for(location) -> int | None:
    """Id of the 2019 commune holding a point (None outside them all, or without a point)."""
    if location is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_COMMUNE_2019_SQL.format(point="ST_GeomFromEWKB(%s)"), [bytes(location.ewkb)])
        row = cursor.fetchone()
    return row[0] if row else None


def communes_2019_of_2025_points() -> dict[int, int | None]:
    """For each 2025 commune, the 2019 commune holding its representative
    point (`ST_PointOnSurface`, where a dossier without an address point is
    placed): one statement for them all."""
    commune = _COMMUNE_2019_SQL.format(point="ST_PointOnSurface(c.geom)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, ({commune}) FROM layers_administrativeunit c WHERE c.era = '2025' AND c.level = 'commune'"
        )
        return dict(cursor.fetchall())


def communes_2019_fill() -> int:
    """Sets the 2019 commune of every located dossier that lacks one."""
    commune = _COMMUNE_2019_SQL.format(point="d.location")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE dossiers_dossier d SET applicant_commune_2019_id = ({commune})
                WHERE d.location IS NOT NULL AND d.applicant_commune_2019_id IS NULL"""
        )
        return cursor.rowcount


def month_of(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date().replace(day=1)


def _upsert_sql(
    table: str, period: str, when: dt.date, rows: list[tuple[int, int, str, int, int]], province_code: str
) -> tuple[str, list]:
    """An UPSERT adding each (area, cell, dimension, key, delta) to its row
    of the month or day `when` (`period`: "month" in dossiers_densitycount,
    "day" in dossiers_densitydaycount)."""
    params: list = []
    # One key order for every transaction, so two never wait on each other in a cycle.
    for area, cell, dimension, key, delta in sorted(rows):
        params += [province_code, when, area, cell, dimension, key, delta]
    values = ", ".join(["(%s, %s::date, %s::smallint, %s::bigint, %s, %s::bigint, %s::int)"] * len(rows))
    sql = (
        f"INSERT INTO {table} AS c (province_code, {period}, area, cell, dimension, key, dossiers) "
        f"VALUES {values} ON CONFLICT (area, dimension, key, {period}, cell, province_code) "
        "DO UPDATE SET dossiers = c.dossiers + EXCLUDED.dossiers"
    )
    return sql, params


def _months_sql(month: dt.date, rows: list[tuple[int, int, str, int, int]], province_code: str) -> tuple[str, list]:
    return _upsert_sql("dossiers_densitycount", "month", month, rows, province_code)


def _cells(dossier: Dossier) -> dict[int, int]:
    """{area: cell} of the dossier (areas it has no cell in left out)."""
    cells = {}
    for area, (column, _) in AREAS.items():
        value = getattr(dossier, column)
        if value is not None:
            cells[area] = value
    return cells


def _keys(dossier: Dossier, status: str) -> dict[str, int]:
    single = {PROCEDURE: dossier.procedure_id, CHANNEL: int(dossier.channel), STATUS: STATUS_KEYS[status]}
    return {ALL: 0, **single, **{pair: pair_key(single[a], single[b]) for pair, (a, b) in PAIRS.items()}}


def density_count_received(dossier: Dossier) -> None:
    """A dossier received (at the desk, or an online one when the desk
    receives it): +1 in each of its areas, for every pre-counted filter.
    Dossiers waiting for receipt are not counted (no month of receipt yet)."""
    cells = _cells(dossier)
    if not cells:
        return
    keys = _keys(dossier, dossier.status)
    rows = [(area, cell, dimension, keys[dimension], 1) for area, cell in cells.items() for dimension in AREAS[area][1]]
    months, month_params = _months_sql(month_of(dossier.received_at), rows, dossier.province_code)
    day_rows = [row for row in rows if row[2] in DAY_DIMENSIONS]
    day = timezone.localtime(dossier.received_at).date()
    days, day_params = _upsert_sql("dossiers_densitydaycount", "day", day, day_rows, dossier.province_code)
    # One statement (a data-modifying WITH): one round trip on the submission path.
    with connection.cursor() as cursor:
        cursor.execute(f"WITH months AS ({months}) {days}", [*month_params, *day_params])


def density_count_status(dossier: Dossier, *, from_status: str) -> None:
    """The dossier moved from `from_status` to its current status."""
    if from_status == dossier.status:
        return
    old, new = _keys(dossier, from_status), _keys(dossier, dossier.status)
    rows = []
    for area, cell in _cells(dossier).items():
        for dimension in AREAS[area][1]:
            if STATUS in components(dimension):
                rows.append((area, cell, dimension, old[dimension], -1))
                rows.append((area, cell, dimension, new[dimension], 1))
    if rows:
        with connection.cursor() as cursor:
            cursor.execute(*_months_sql(month_of(dossier.received_at), rows, dossier.province_code))


# dimension -> the key as an expression on the dossier
_KEY_SQL = {
    PROCEDURE: "procedure_id",
    CHANNEL: "channel::bigint",
    STATUS: "array_position(%(statuses)s::text[], status)::bigint",
}


def _grouping_sql(dimensions: tuple[str, ...], period: str = "month") -> tuple[str, str, list[str], str]:
    """For one GROUP BY GROUPING SETS over the dossiers of an area, by
    `period` (a column of the subquery): the expressions of the row's
    dimension and key, the grouping sets, and the filter columns to select."""
    columns = [c for c in (PROCEDURE, CHANNEL, STATUS) if any(c in components(d) for d in dimensions)]
    if not columns:
        return f"'{ALL}'", "0", [f"(cell, {period})"], ""
    # GROUPING(a, b, c) has a bit set for each column the row's set leaves out.
    grouping = f"GROUPING({', '.join(columns)})"
    dimension_whens, key_whens, sets = [], [], []
    for dimension in dimensions:
        parts = components(dimension)
        mask = sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in parts)
        key = "0" if not parts else parts[0] if len(parts) == 1 else f"{parts[0]} * {PAIR_BASE} + {parts[1]}"
        dimension_whens.append(f"WHEN {mask} THEN '{dimension}'")
        key_whens.append(f"WHEN {mask} THEN {key}")
        sets.append(f"({', '.join(['cell', period, *parts])})")
    dimension_sql = f"CASE {grouping} {' '.join(dimension_whens)} END"
    key_sql = f"CASE {grouping} {' '.join(key_whens)} END"
    selected = "".join(f", {_KEY_SQL[c]} AS {c}" for c in columns)
    return dimension_sql, key_sql, sets, selected


def quarter_start(day: dt.date) -> dt.date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def quarters_ended_before(today: dt.date) -> dt.date:
    """The start of the first quarter not yet summable on `today`: a quarter
    is summed once it ended a whole day ago, when no transaction that began
    in it can still be adding to its months."""
    return quarter_start(today - dt.timedelta(days=1))


def density_quarters_close() -> int:
    """Sums the month rows of the day-row filters (`DAY_DIMENSIONS`, whose
    months never change once over) into DensityQuarterCount for every ended
    quarter not summed yet, and marks those quarters summed, in one
    transaction; returns the number of quarters summed. Daily (the
    `dossier-density-quarters` beat task) and in `density_rebuild`; a quarter
    not summed yet is read from its months meanwhile."""
    limit = quarters_ended_before(timezone.localdate())
    with transaction.atomic(), connection.cursor() as cursor:
        # One at a time, and after a rebuild that holds these tables (it sums the quarters itself).
        cursor.execute("LOCK TABLE dossiers_densityquartersummed IN SHARE ROW EXCLUSIVE MODE")
        # The first month counted, through the index of each area's unfiltered rows.
        firsts = " UNION ALL ".join(
            f"(SELECT month FROM dossiers_densitycount WHERE area = {area} AND dimension = '{ALL}' AND key = 0 "
            "ORDER BY month LIMIT 1)"
            for area in AREAS
        )
        cursor.execute(f"SELECT min(month) FROM ({firsts}) AS firsts")
        (first,) = cursor.fetchone()
        cursor.execute("SELECT quarter FROM dossiers_densityquartersummed")
        summed = {row[0] for row in cursor.fetchall()}
        todo, quarter = [], quarter_start(first) if first else limit
        while quarter < limit:
            if quarter not in summed:
                todo.append(quarter)
            quarter = month_start(quarter, -3)
        if not todo:
            return 0
        cursor.execute(
            """INSERT INTO dossiers_densityquartercount (province_code, quarter, area, cell, dimension, key, dossiers)
               SELECT province_code, date_trunc('quarter', month)::date, area, cell, dimension, key, sum(dossiers)
               FROM dossiers_densitycount
               WHERE dimension = ANY(%(dimensions)s) AND month >= %(first)s AND month < %(end)s
                 AND date_trunc('quarter', month)::date = ANY(%(todo)s::date[])
               GROUP BY 1, 2, 3, 4, 5, 6
               HAVING sum(dossiers) <> 0""",
            {"dimensions": list(DAY_DIMENSIONS), "first": todo[0], "end": limit, "todo": todo},
        )
        cursor.executemany("INSERT INTO dossiers_densityquartersummed (quarter) VALUES (%s)", [(q,) for q in todo])
    return len(todo)


def density_rebuild() -> int:
    """Recomputes every DensityCount and DensityDayCount row from the dossiers,
    and sums the ended quarters again (after COPY loads or a change of
    STATUS_KEYS; `manage.py density_rebuild`);
    returns the number of DensityCount rows. Submissions wait for it (the
    tables are locked against writes) instead of adding to rows it replaces."""
    params = {"tz": timezone.get_current_timezone_name(), "statuses": list(STATUS_KEYS)}
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "LOCK TABLE dossiers_densitycount, dossiers_densitydaycount, dossiers_densityquartercount, "
            "dossiers_densityquartersummed IN EXCLUSIVE MODE"
        )
        for table in ("densitycount", "densitydaycount", "densityquartercount", "densityquartersummed"):
            cursor.execute(f"DELETE FROM dossiers_{table}")
        for area, (column, dimensions) in AREAS.items():
            dimension, key, sets, selected = _grouping_sql(dimensions)
            cursor.execute(
                f"""INSERT INTO dossiers_densitycount (province_code, month, area, cell, dimension, key, dossiers)
                    SELECT province_code, month, {area}, cell, {dimension}, {key}, count(*)
                    FROM (SELECT province_code, {column} AS cell,
                                 date_trunc('month', received_at AT TIME ZONE %(tz)s)::date AS month{selected}
                          FROM dossiers_dossier WHERE {column} IS NOT NULL AND received_at IS NOT NULL) AS d
                    GROUP BY province_code, GROUPING SETS ({", ".join(sets)})""",
                params,
            )
            total += cursor.rowcount
            dimension, key, sets, selected = _grouping_sql(
                tuple(d for d in dimensions if d in DAY_DIMENSIONS), period="day"
            )
            cursor.execute(
                f"""INSERT INTO dossiers_densitydaycount (province_code, day, area, cell, dimension, key, dossiers)
                    SELECT province_code, day, {area}, cell, {dimension}, {key}, count(*)
                    FROM (SELECT province_code, {column} AS cell,
                                 (received_at AT TIME ZONE %(tz)s)::date AS day{selected}
                          FROM dossiers_dossier WHERE {column} IS NOT NULL AND received_at IS NOT NULL) AS d
                    GROUP BY province_code, GROUPING SETS ({", ".join(sets)})""",
                params,
            )
        density_quarters_close()
    return total
