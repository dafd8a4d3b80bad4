"""Batch nearest: every point of a source to its nearest active service point
of one kind, in geodesic metres on WGS84 (the metres of the nearest endpoint,
`selectors.service_points_nearest`), stored as one run (NearestRun and its
NearestAssignment rows, written all-or-nothing).

How it computes, for N points and S service points:
- Read: the points' (id, lon, lat) come out of PostgreSQL as one bytea per
  chunk of `chunk` ids (keyset order), parsed by numpy without a Python
  object per row; the service points of the kind likewise.
- Candidates: a uniform grid over the service points in the plane
  (lon * cos(lat_hi), lat), lat_hi = their highest |latitude| + 1 degree, a
  cell holding about two of them. Points are taken a cell at a time: the
  service points of the block of cells around it (3 x 3 first) are ranked by
  planar distance d in that plane; the first and those within 12% of it are
  kept.
- Metres: the geodesic (pyproj's geographiclib, the algorithm PostGIS's
  `ST_Distance(geography, true)` uses) of each kept pair; per point the
  smallest, ties to the lower service point id.
- Proof: in that plane a unit is never more than 110,574 m along any path
  with |lat| <= lat_hi (a degree of latitude is at least that, a degree of
  longitude at least cos(lat) times 111,319 m), so a service point at plane
  distance d is at least 0.99 * 110,574 * d metres away. A point's answer is
  exact when its best metres are below that bound for every pair not kept
  and for anything outside its block. The others are done again with a
  wider block (7 x 7, 19 x 19) and at last against every service point; so
  are answers over 100 km and points within half a degree of lat_hi (their
  path may bulge past it).
- Write: rows in id order (the primary key's order, which keeps the index
  appends cheap) by binary COPY; a writer thread sends one slice while the
  next is computed, and the whole run is one transaction.
Not across the antimeridian (the grid does not wrap): a province's data is
far from it.

Points come from a registered source (`point_source_register`): the spatial
foundation knows the registry features; the dossiers and the feedback apps
register theirs when they load, so this module imports neither."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter
from pyproj import Geod

from gisportal.outbox import outbox_claim, outbox_heartbeat, outbox_owns, outbox_publish_on_commit

from .models import GeometryType, Layer, NearestAssignment, NearestRun, ServicePointKind

logger = logging.getLogger(__name__)

_GEOD = Geod(ellps="WGS84")
# Metres per degree of latitude at the equator, the smallest it gets (see _MIN_METRES_PER_DEGREE in selectors).
_METRES_PER_DEGREE_MIN = 110_574.0
_SAFETY = 0.99
_KEEP_WITHIN = 1.12  # pairs kept for the geodesic: plane distance within 12% of the point's first
_BLOCK_RADII = (1, 3, 9)  # cells around a point's own, before every service point is tried
_BOUND_VALID_M = 100_000.0  # beyond this the bound's latitude slack is not relied on
_SERVICE_POINTS_PER_CELL = 2.0
_POINT_LAT_MARGIN = 0.5  # degrees: a point this close to lat_hi is measured against every service point
_SLICE = 131_072  # points computed at a time while the previous slice's rows are being written
DEFAULT_CHUNK = 1_000_000


class BatchNearestError(ValueError):
    """Bad arguments of a run: (Vietnamese, English) message and the field it names."""

    def __init__(self, field: str, vi: str, en: str) -> None:
        super().__init__(f"{field}: {vi} / {en}")
        self.field, self.vi, self.en = field, vi, en


# --- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointSource:
    """A table of points: `id_column` (bigint) and a Point `geom_column` in EPSG:4326."""

    name: str
    table: str
    id_column: str = "id"
    geom_column: str = "geom"
    needs_layer: bool = False


_SOURCES: dict[str, PointSource] = {
    "features": PointSource(name="features", table="layers_feature", needs_layer=True),
}


def point_source_register(source: PointSource) -> None:
    _SOURCES[source.name] = source


def point_sources() -> dict[str, PointSource]:
    return dict(_SOURCES)


def _source_checked(*, source: str, layer_id: int | None) -> tuple[PointSource, Layer | None]:
    if source not in _SOURCES:
        raise BatchNearestError(
            "source", f"nguồn không hợp lệ; chọn {', '.join(sorted(_SOURCES))}", f"must be one of {sorted(_SOURCES)}"
        )
    found = _SOURCES[source]
    if not found.needs_layer:
        if layer_id is not None:
            raise BatchNearestError("layer", "chỉ dùng với nguồn features", "only with source=features")
        return found, None
    if layer_id is None:
        raise BatchNearestError("layer", "cần lớp dữ liệu cho nguồn features", "required with source=features")
    layer = Layer.objects.filter(pk=layer_id).first()
    if layer is None:
        raise BatchNearestError("layer", "không có lớp dữ liệu này", "no such layer")
    if layer.geometry_type != GeometryType.POINT:
        raise BatchNearestError("layer", "lớp dữ liệu phải là lớp điểm", "must be a Point layer")
    return found, layer


def _kind_checked(kind: str) -> str:
    if kind not in ServicePointKind.values:
        raise BatchNearestError(
            "kind", f"loại điểm phục vụ không hợp lệ; chọn {', '.join(ServicePointKind.values)}",
            f"must be one of {ServicePointKind.values}",
        )  # fmt: skip
    return kind


# --- reading and writing by binary COPY ---------------------------------------------------------

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_READ_ROW = np.dtype([("id", ">i8"), ("x", ">f8"), ("y", ">f8")])
_WRITE_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("run", ">i8"), ("l2", ">i4"), ("point", ">i8"), ("l3", ">i4"), ("sp", ">i8"),
     ("l4", ">i4"), ("m", ">f8")]
)  # fmt: skip


def _read_points(cursor, sql: str, params: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, lon, lat) of `SELECT id, x, y ...` (no NULLs): one bytea of
    big-endian (int8, float8, float8) per row, built by the server and parsed
    by numpy, with no Python object per row (a COPY hands each row over as
    a message of its own, which costs more than the computation)."""
    cursor.execute(
        "SELECT string_agg(int8send(r.id::int8) || float8send(r.x::float8) || float8send(r.y::float8), ''::bytea) "
        f"FROM ({sql}) AS r(id, x, y)",
        params,
    )
    data = cursor.fetchone()[0]
    rows = np.frombuffer(bytes(data) if data is not None else b"", dtype=_READ_ROW)
    return rows["id"].astype(np.int64), rows["x"].astype(np.float64), rows["y"].astype(np.float64)


def _assignment_rows(*, run_id: int, points: np.ndarray, service_points: np.ndarray, metres: np.ndarray) -> bytes:
    """Binary COPY tuples (run_id, point_id, service_point_id, distance_m)."""
    rows = np.empty(len(points), dtype=_WRITE_ROW)
    rows["n"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 8, 8, 8, 8
    rows["run"], rows["point"], rows["sp"], rows["m"] = run_id, points, service_points, metres
    return rows.tobytes()


def _assignments_copy_sql() -> str:
    table = NearestAssignment._meta.db_table
    return f"COPY {table} (run_id, point_id, service_point_id, distance_m) FROM STDIN (FORMAT binary)"


def _points_sql(source: PointSource, layer: Layer | None) -> tuple[str, list]:
    """The chunk query: (id, lon, lat) of located points with id > %s, in id order, LIMIT %s."""
    where, params = [f"{source.geom_column} IS NOT NULL"], []
    if layer is not None:
        where.append("layer_id = %s AND GeometryType(geom) = 'POINT'")
        params.append(layer.pk)
    sql = (
        f"SELECT {source.id_column}::int8, ST_X({source.geom_column})::float8, ST_Y({source.geom_column})::float8 "
        f"FROM {source.table} WHERE {' AND '.join(where)} AND {source.id_column} > %s "
        f"ORDER BY {source.id_column} LIMIT %s"
    )
    return sql, params


def service_points_of_kind(cursor, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _read_points(
        cursor,
        "SELECT id::int8, ST_X(geom)::float8, ST_Y(geom)::float8 FROM layers_servicepoint "
        "WHERE is_active AND kind = %s ORDER BY id",
        [kind],
    )


# --- the computation ----------------------------------------------------------------------------


def _geodesic_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    if len(lon1) == 0:
        return np.empty(0)
    return np.asarray(_GEOD.inv(lon1, lat1, lon2, lat2, return_back_azimuth=False)[2], dtype=np.float64)


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def _best_per_point(pi: np.ndarray, sj: np.ndarray, metres: np.ndarray, sid: np.ndarray, n: int):
    """Per point index (0..n-1), the pair with the fewest metres (ties: lower
    service point id): (service point index, metres), -1 / inf where none.
    The pairs of one point are contiguous (they are made so)."""
    best_s = np.full(n, -1, dtype=np.int64)
    best_m = np.full(n, np.inf)
    if len(pi) == 0:
        return best_s, best_m
    starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
    lowest = np.minimum.reduceat(metres, starts)
    counts = np.diff(np.r_[starts, len(pi)])
    # Among the pairs at the lowest metres of their point, the lowest id.
    at_lowest = metres == np.repeat(lowest, counts)
    ids = np.where(at_lowest, sid[sj], np.iinfo(np.int64).max)
    lowest_id = np.minimum.reduceat(ids, starts)
    chosen = at_lowest & (ids == np.repeat(lowest_id, counts))
    best_s[pi[chosen]] = sj[chosen]
    best_m[pi[starts]] = lowest
    return best_s, best_m


class NearestFinder:
    """The service points of a run, gridded once; `assign` answers any
    number of points against them."""

    def __init__(self, *, sp_ids: np.ndarray, sp_lon: np.ndarray, sp_lat: np.ndarray) -> None:
        if len(sp_ids) == 0:
            raise BatchNearestError("kind", "không có điểm phục vụ nào đang hoạt động thuộc loại này",
                                    "no active service point of this kind")  # fmt: skip
        self.sid, self.lon, self.lat = sp_ids, sp_lon, sp_lat
        # The bound holds on paths with |lat| <= lat_hi; points within
        # _POINT_LAT_MARGIN of it use it (paths under 100 km bulge far less).
        self.lat_hi = min(float(np.abs(sp_lat).max()) + 1.0, 89.0)
        self.scale = math.cos(math.radians(self.lat_hi))
        self.x, self.y = sp_lon * self.scale, sp_lat
        self.x0, self.y0 = float(self.x.min()), float(self.y.min())
        width, height = float(self.x.max()) - self.x0, float(self.y.max()) - self.y0
        area = max(width * height, 1e-12)
        self.h = max(math.sqrt(area * _SERVICE_POINTS_PER_CELL / len(sp_ids)), 1e-6)
        self.nx, self.ny = int(width / self.h) + 1, int(height / self.h) + 1
        cells = self._cell(self.x, self.y)
        self.order = np.argsort(cells, kind="stable")
        self.starts = np.searchsorted(cells[self.order], np.arange(self.nx * self.ny + 1))

    def _ix_iy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Points outside the grid fall in its edge cells: nothing lies beyond the edge, so a block
        # around an edge cell still leaves out only what is at least `radius` cells away.
        ix = np.clip(np.floor((x - self.x0) / self.h), 0, self.nx - 1).astype(np.int64)
        iy = np.clip(np.floor((y - self.y0) / self.h), 0, self.ny - 1).astype(np.int64)
        return ix, iy

    def _cell(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix, iy = self._ix_iy(x, y)
        return ix * self.ny + iy

    def _block_pairs(self, px: np.ndarray, py: np.ndarray, radius: int):
        """(point, service point) index pairs to measure, contiguous per
        point, and per point the plane distance under which nothing was
        left out. The block is the (2r+1)^2 cells around the point's; the
        points are taken a cell at a time (a cell's block is three to
        nineteen contiguous runs of the sorted service points)."""
        n = len(px)
        ix, iy = self._ix_iy(px, py)
        cells = ix * self.ny + iy
        by_cell = np.argsort(cells, kind="stable")
        cells_sorted = cells[by_cell]
        bounds = np.flatnonzero(np.r_[True, cells_sorted[1:] != cells_sorted[:-1], True])
        pairs_p, pairs_s = [], []
        safe_d = np.full(n, radius * self.h)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            cx, cy = divmod(int(cells_sorted[a]), self.ny)
            y_lo, y_hi = max(cy - radius, 0), min(cy + radius, self.ny - 1)
            candidates = np.concatenate([
                self.order[self.starts[col * self.ny + y_lo] : self.starts[col * self.ny + y_hi + 1]]
                for col in range(max(cx - radius, 0), min(cx + radius, self.nx - 1) + 1)
            ])  # fmt: skip
            if len(candidates) == 0:
                continue
            members = by_cell[a:b]
            d = np.hypot(px[members, None] - self.x[None, candidates], py[members, None] - self.y[None, candidates])
            kept = d <= d.min(axis=1, keepdims=True) * _KEEP_WITHIN
            safe_d[members] = np.minimum(safe_d[members], np.where(kept, np.inf, d).min(axis=1))
            rows, cols = np.nonzero(kept)
            pairs_p.append(members[rows])
            pairs_s.append(candidates[cols])
        if not pairs_p:
            return np.empty(0, np.int64), np.empty(0, np.int64), safe_d
        return np.concatenate(pairs_p), np.concatenate(pairs_s), safe_d

    def _every_pair(self, lon: np.ndarray, lat: np.ndarray, block: int = 64):
        """Points against every service point (the geodesic of each)."""
        best_s = np.empty(len(lon), dtype=np.int64)
        best_m = np.empty(len(lon))
        m = len(self.sid)
        for start in range(0, len(lon), block):
            part = slice(start, start + block)
            k = len(lon[part])
            pi, sj = np.repeat(np.arange(k), m), np.tile(np.arange(m), k)
            metres = _geodesic_m(lon[part][pi], lat[part][pi], self.lon[sj], self.lat[sj])
            best_s[part], best_m[part] = _best_per_point(pi, sj, metres, self.sid, k)
        return best_s, best_m

    def assign(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point, the id of its nearest service point and the
        geodesic metres to it (ties to the lower id); exact (module notes)."""
        n = len(lon)
        best_s = np.full(n, -1, dtype=np.int64)
        best_m = np.full(n, np.inf)
        todo = np.flatnonzero(np.abs(lat) <= self.lat_hi - _POINT_LAT_MARGIN)
        px, py = lon * self.scale, lat
        for radius in _BLOCK_RADII:
            if len(todo) == 0:
                break
            pi, sj, safe_d = self._block_pairs(px[todo], py[todo], radius)
            at = todo[pi]
            metres = _geodesic_m(lon[at], lat[at], self.lon[sj], self.lat[sj])
            got_s, got_m = _best_per_point(pi, sj, metres, self.sid, len(todo))
            exact = (got_m < _SAFETY * _METRES_PER_DEGREE_MIN * safe_d) & (got_m <= _BOUND_VALID_M)
            best_s[todo[exact]], best_m[todo[exact]] = got_s[exact], got_m[exact]
            todo = todo[~exact]
        rest = np.flatnonzero(best_s < 0)
        if len(rest):
            logger.info("batch nearest: %d of %d points measured against every service point", len(rest), n)
            best_s[rest], best_m[rest] = self._every_pair(lon[rest], lat[rest])
        return self.sid[best_s], best_m


def nearest_assign(
    *, lon: np.ndarray, lat: np.ndarray, sp_ids: np.ndarray, sp_lon: np.ndarray, sp_lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the id of its nearest service point and the geodesic
    metres to it (WGS84; ties to the lower id). Exact (see the module's notes)."""
    return NearestFinder(sp_ids=sp_ids, sp_lon=sp_lon, sp_lat=sp_lat).assign(lon, lat)


# --- runs ---------------------------------------------------------------------------------------


def nearest_run_create(
    *, source: str, kind: str, layer_id: int | None = None, acting_user=None, enqueue: bool = True
) -> NearestRun:
    """A queued run, published to the worker once committed (unless the
    caller runs it itself: `enqueue=False`); bad arguments raise
    BatchNearestError naming the field, and nothing is written."""
    found, layer = _source_checked(source=source, layer_id=layer_id)
    _kind_checked(kind)
    with transaction.atomic():
        run = NearestRun.objects.create(source=found.name, layer=layer, kind=kind, requested_by=acting_user)
        if enqueue:
            outbox_publish_on_commit(run)
    return run


def nearest_run_execute(
    *,
    run_id: int,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[str], None] | None = None,
    timings: dict[str, float] | None = None,
):
    """Claim the run and compute it with heartbeats: what the worker's task
    and the management command do. None when there is nothing to run.
    `timings`, if given, receives the seconds of each phase (read, compute,
    write, commit)."""
    run = outbox_claim(NearestRun, run_id)
    if run is None:
        return None
    with outbox_heartbeat(run):
        return _run(run, chunk=chunk, progress=progress or (lambda _: None), timings={} if timings is None else timings)


def _run(run: NearestRun, *, chunk: int, progress: Callable[[str], None], timings: dict[str, float]) -> NearestRun:
    run.started_at = timezone.now()
    NearestRun.objects.filter(pk=run.pk).update(started_at=run.started_at)
    try:
        source, layer = _source_checked(source=run.source, layer_id=run.layer_id)
        with transaction.atomic():
            if not outbox_owns(run):
                return run
            summary = _compute_and_store(
                run, source=source, layer=layer, chunk=chunk, progress=progress, timings=timings
            )
            NearestRun.objects.filter(pk=run.pk).update(
                status=NearestRun.Status.SUCCEEDED, finished_at=timezone.now(), message="", **summary
            )
            committing = time.perf_counter()
        timings["commit"] = time.perf_counter() - committing
    except Exception as error:  # noqa: BLE001 - recorded on the run, which stays without rows
        logger.exception("batch nearest run %s failed", run.pk)
        if isinstance(error, BatchNearestError):
            text = f"{error.vi} / {error.en}"
        else:
            text = f"{type(error).__name__}: {error}"
        with transaction.atomic():
            if outbox_owns(run):
                NearestRun.objects.filter(pk=run.pk).update(
                    status=NearestRun.Status.FAILED, finished_at=timezone.now(), message=text[:2000]
                )
        run.refresh_from_db()
        if not isinstance(error, BatchNearestError):
            raise
        return run
    run.refresh_from_db()
    return run


def _compute_and_store(
    run: NearestRun, *, source: PointSource, layer: Layer | None, chunk: int, progress, timings: dict[str, float]
) -> dict:
    for phase in ("read", "compute", "write"):
        timings.setdefault(phase, 0.0)
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] += now - clock
        clock = now

    with connection.cursor() as cursor:
        sp_ids, sp_lon, sp_lat = service_points_of_kind(cursor, run.kind)
        finder = NearestFinder(sp_ids=sp_ids, sp_lon=sp_lon, sp_lat=sp_lat)
        sql, params = _points_sql(source, layer)
        after, total, metres_sum, metres_max = -(2**63), 0, 0.0, 0.0
        while True:
            ids, lon, lat = _read_points(cursor, sql, [*params, after, chunk])
            lap("read")
            if len(ids) == 0:
                break
            # Slices in id order (the primary key's, which keeps the index
            # appends cheap); a writer thread sends one slice's rows while
            # the next is computed, and the server stores them meanwhile.
            with cursor.cursor.copy(_assignments_copy_sql(), writer=QueuedLibpqWriter(cursor.cursor)) as copy:
                copy.write(_COPY_HEADER)
                for start in range(0, len(ids), _SLICE):
                    part = slice(start, start + _SLICE)
                    nearest, metres = finder.assign(lon[part], lat[part])
                    rows = _assignment_rows(run_id=run.pk, points=ids[part], service_points=nearest, metres=metres)
                    lap("compute")
                    copy.write(rows)
                    lap("write")
                    metres_sum += float(metres.sum())
                    metres_max = max(metres_max, float(metres.max()))
                copy.write(b"\xff\xff")
            lap("write")
            total += len(ids)
            after = int(ids[-1])
            progress(f"{total:,} points assigned")
            if len(ids) < chunk:
                break
    return {
        "points": total,
        "service_points": len(sp_ids),
        "max_distance_m": metres_max if total else None,
        "mean_distance_m": metres_sum / total if total else None,
    }


def nearest_run_delete(*, run: NearestRun) -> None:
    """A run and its rows."""
    with transaction.atomic():
        NearestAssignment.objects.filter(run=run).delete()
        run.delete()


def nearest_run_loads(*, run: NearestRun) -> list[dict]:
    """Per service point of a succeeded run: how many points it is nearest
    to, their mean and farthest metres (the catchment load the planning
    maps can show), busiest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.code, s.name, ST_X(s.geom), ST_Y(s.geom), a.points, a.mean_m, a.max_m
               FROM (SELECT service_point_id, count(*) AS points, avg(distance_m) AS mean_m, max(distance_m) AS max_m
                     FROM layers_nearestassignment WHERE run_id = %s GROUP BY 1) a
               JOIN layers_servicepoint s ON s.id = a.service_point_id
               ORDER BY a.points DESC, s.code""",
            [run.pk],
        )
        return [
            {"code": code, "name": name, "lon": lon, "lat": lat, "points": points,
             "mean_distance_m": round(mean_m, 1), "max_distance_m": round(max_m, 1)}
            for code, name, lon, lat, points, mean_m, max_m in cursor.fetchall()
        ]  # fmt: skip
