"""Vector tiles of registry layers: Mapbox Vector Tiles made by PostGIS
(`ST_AsMVT`), cached per layer version, and their TileJSON.

How a tile is made:
- Where the layer is sparse at this zoom (on average at most
  RAW_AVERAGE_FEATURES per tile over its extent) and the tile holds at most
  RAW_MAX_FEATURES, the tile carries every feature as it is, with its id and
  properties: a small layer such as the hospitals stays clickable at the
  province view. Deciding by layer and zoom, not tile by tile, keeps
  neighbouring tiles alike (no seam between drawn and aggregated tiles).
- Otherwise the tile aggregates: features smaller than a grid cell (every
  point; polygons and lines under about 16 px) are grouped per cell of a
  grid aligned with the tile; a cell holding one feature keeps it (as a
  point, with its id and properties), a cell holding more becomes one point
  with a `cluster_count` attribute and no id. Only the tile's own cells are
  drawn, so a crowd is counted by exactly one tile. Larger features are
  simplified by a zoom-dependent tolerance.
- A tile still over MAX_TILE_BYTES is made again with a grid and a tolerance
  twice as coarse, until it fits (the last step aggregates everything), so
  no tile exceeds the cap whatever the data.

An empty tile is answered with 204 No Content (no body)."""

import contextlib
import fnmatch
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from redis.exceptions import RedisError
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.selectors import actor_for
from gisportal.api import BadParameters, message
from gisportal.cache import RecentValues, WrittenBehind, get_started
from gisportal.dbrouting import read_connection
from gisportal.fastpath import reconnecting, view_set_up, with_view_headers
from gisportal.prepared import prepared_cursor
from gisportal.renderers import JSONRenderer

from ..models import GeometryType, Layer, Visibility
from .selectors import layer_get_for_user, layer_visible_to

logger = logging.getLogger(__name__)

MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"
TILE_EXTENT = 4096  # MVT units across a tile
TILE_BUFFER = 64  # units drawn beyond each edge, so strokes and symbols are not cut at tile seams
MAX_ZOOM = 22
# TileJSON tells clients to over-zoom past this: at z18 one MVT unit is
# under 4 cm, finer than any registry's survey.
TILEJSON_MAX_ZOOM = 18
MAX_TILE_BYTES = 500 * 1024
# Above this many candidates a tile aggregates instead of carrying every
# feature (a z10 tile of raw points was 4.6 MB, DESIGN.md)...
RAW_MAX_FEATURES = 5_000
# ...and so does every tile of a zoom at which the layer averages more than
# this per tile over its extent.
RAW_AVERAGE_FEATURES = 1_000
# Aggregation grid: 16 cells across a tile, 16 px of a 256-px tile: crowds
# drawn as circles do not run into each other.
GRID_CELLS = 16
# Coarser grids tried, each half as fine, before the last resort.
COARSER_STEPS = 2
LAST_RESORT_GRID_CELLS = 4
# Simplification tolerance in MVT units; the tile grid itself snaps to 1 unit.
SIMPLIFY_UNITS = 1.0
# Bump when the tile contents change shape, so cached tiles of the old code are not served.
TILE_FORMAT = 2
TILE_CACHE_SECONDS = 24 * 3600
# Short: after an edit the map is at most this much behind (the ETag makes revalidation cheap).
HTTP_MAX_AGE_SECONDS = 60
# Web Mercator: the world is a square this many metres wide.
WORLD_WIDTH_M = 2 * 20037508.342789244

CLUSTER_ATTRIBUTE = "cluster_count"
FIELD_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}
POINT_TYPES = {GeometryType.POINT, GeometryType.MULTIPOINT}


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    @property
    def width_m(self) -> float:
        return WORLD_WIDTH_M / 2**self.z


def tile_address_parse(z: int, x: int, y: int) -> TileAddress:
    """The tile, or a 400 naming each coordinate out of range."""
    errors: dict[str, list[str]] = {}
    if not 0 <= z <= MAX_ZOOM:
        errors["z"] = [message(f"Mức zoom phải trong [0, {MAX_ZOOM}].", f"Zoom must be within [0, {MAX_ZOOM}].")]
    else:
        last = 2**z - 1
        for name, value in (("x", x), ("y", y)):
            if not 0 <= value <= last:
                errors[name] = [
                    message(f"Ở zoom {z} phải trong [0, {last}].", f"Must be within [0, {last}] at zoom {z}.")
                ]
    if errors:
        raise BadParameters(errors)
    return TileAddress(z, x, y)


@dataclass(frozen=True)
class TileSource:
    """What making and caching a layer's tiles needs of it: a few columns,
    read by one plain statement per request (the ORM took as long to compile
    its query as a cached tile takes to serve)."""

    pk: int
    slug: str
    version: int
    visibility: str
    owner_id: int | None
    geometry_type: str
    feature_count: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north (the layer's kept extent)


def tile_source_of(layer: "Layer | TileSource") -> TileSource:
    if isinstance(layer, TileSource):
        return layer
    return TileSource(
        pk=layer.pk,
        slug=layer.slug,
        version=layer.version,
        visibility=layer.visibility,
        owner_id=layer.owner_id,
        geometry_type=layer.geometry_type,
        feature_count=layer.feature_count,
        bounds=tuple(layer.extent.extent) if layer.extent is not None else None,
    )


_SOURCE_SQL = """
    SELECT id, slug, version, visibility, owner_id, geometry_type, feature_count,
           ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent)
    FROM layers_layer WHERE slug = %(slug)s
"""
_SOURCE_COLUMNS = 11


def _source_of(row) -> TileSource | None:
    if row is None:
        return None
    return TileSource(*row[:7], bounds=None if row[7] is None else tuple(row[7:_SOURCE_COLUMNS]))


def tile_source_read(slug: str) -> TileSource | None:
    """The layer of that slug, whoever may see it; None when there is none.
    A prepared statement: planning it took four times as long as running it."""
    with prepared_cursor() as cursor:
        cursor.execute(_SOURCE_SQL, {"slug": slug})
        return _source_of(cursor.fetchone())


def tile_source_visible(actor, source: TileSource | None) -> bool:
    return source is not None and layer_visible_to(
        actor, layer_id=source.pk, visibility=source.visibility, owner_id=source.owner_id
    )


def tile_source_for(*, actor, slug: str) -> TileSource:
    """The layer of that slug if the actor may see it, else a 404 (a hidden
    layer looks like a missing one), by layers_visible_to's rules."""
    source = tile_source_read(slug)
    if not tile_source_visible(actor, source):
        raise Http404
    return source


# --- SQL -------------------------------------------------------------------------
# The candidates come from the (layer_id, geom) GiST index through `&&` with
# the tile envelope (plus the buffer) brought to 4326: a Mercator rectangle is
# a lon/lat rectangle, so nothing is lost. The envelope is first cut to the
# world: ST_Transform wraps a margin beyond ±180° to the other side, which
# would turn the edge tiles' filter inside out. OFFSET 0 fences the
# candidates off: without it the planner may pull the transforms up into a
# parallel sequential scan (34 ms instead of 1.8 ms per z14 tile, DESIGN.md).

_IN_TILE = """
    f.layer_id = %(layer)s::bigint
    AND f.geom && ST_Transform(
        ST_ClipByBox2D(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), ST_TileEnvelope(0, 0, 0)::box2d),
        4326
    )
"""

# A point brought to Web Mercator by the projection's own formulas, as PROJ
# computes them (x = R·λ, y = R·asinh(tan φ)): the same doubles as
# ST_Transform(geom, 3857) (tested on random points of the whole world), for
# less: 0.13 ms of the 2.5 ms of SQL of a z14 tile of 700 points
# (docs/decisions.md, 7 December 2026). Only for a latitude within the
# Mercator square, which the tile filter ensures.
_EARTH_RADIUS_M = 6378137.0
_MERCATOR_POINT = (
    f"ST_Point(radians(ST_X(f.geom)) * {_EARTH_RADIUS_M}, {_EARTH_RADIUS_M} * asinh(tan(radians(ST_Y(f.geom)))), 3857)"
)

# One statement, one pass: the candidates (at most RAW_MAX_FEATURES + 1) are
# counted and drawn together; the caller throws the tile away when the count
# is over RAW_MAX_FEATURES (a tile of 5,001 features, made only on a cache
# miss of a crowded tile of a sparse layer). Cheaper in the common case than
# a materialized CTE counted first (3.1 against 4.0 ms for a z14 tile of 700
# points at 1,000,000), and than a separate count query and its transaction.
# The tile's Web Mercator envelope is a scalar subquery, run once (an
# InitPlan): the statement is prepared, and in its generic plan the tile's
# coordinates are parameters, not constants folded at planning, so the
# envelope written as an argument of ST_AsMVTGeom was made again for every
# feature (0.2 ms of a z14 tile of 700 points, 3.5 ms in all).
_RAW_SQL = f"""
    SELECT count(*), ST_AsMVT(t, %(name)s, {TILE_EXTENT}, 'geom', 'id') FILTER (WHERE t.geom IS NOT NULL)
    FROM (
        SELECT f.id, f.properties,
               ST_AsMVTGeom(
                   CASE WHEN %(simplify)s > 0 THEN ST_Simplify(ST_Transform(f.geom, 3857), %(simplify)s, true)
                        WHEN GeometryType(f.geom) = 'POINT' THEN {_MERCATOR_POINT}
                        ELSE ST_Transform(f.geom, 3857) END,
                   (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s)), {TILE_EXTENT}, {TILE_BUFFER}, true
               ) AS geom
        FROM layers_feature f WHERE {_IN_TILE} LIMIT %(limit)s
    ) t
"""

# Aggregation sizes features by their bounding box, brought to Web Mercator
# by the projection's formulas (x = R·λ, y = R·ln tan(π/4 + φ/2)): a few
# multiplications instead of ST_Transform on every geometry of a busy tile
# (half the time of a z8 tile of 200,000 points). Only the features drawn
# as shapes are transformed. Cells are counted from the world's west and
# south edges, so every tile edge is a cell edge and no cell straddles two tiles.
_MAX_LAT = 85.0511287798066
_MERC_Y = f"({_EARTH_RADIUS_M} * ln(tan(pi() / 4 + radians(LEAST(GREATEST({{}}, -{_MAX_LAT}), {_MAX_LAT})) / 2)))"
_AGGREGATED_SQL = f"""
    WITH candidates AS (
        SELECT f.id, box2d(f.geom) AS box FROM layers_feature f WHERE {_IN_TILE} OFFSET 0
    ),
    sized AS (
        SELECT id,
               radians(ST_XMin(box)) * {_EARTH_RADIUS_M} AS x0, radians(ST_XMax(box)) * {_EARTH_RADIUS_M} AS x1,
               {_MERC_Y.format("ST_YMin(box)")} AS y0, {_MERC_Y.format("ST_YMax(box)")} AS y1
        FROM candidates
    ),
    marked AS (
        SELECT id, (x0 + x1) / 2 AS cx, (y0 + y1) / 2 AS cy, x1 - x0 < %(small)s AND y1 - y0 < %(small)s AS small
        FROM sized
    ),
    cells AS (
        SELECT n, first_id, cx, cy FROM (
            SELECT count(*) AS n, min(id) AS first_id, avg(cx) AS cx, avg(cy) AS cy
            FROM marked
            WHERE small
            GROUP BY floor((cx + {WORLD_WIDTH_M / 2}) / %(cell)s), floor((cy + {WORLD_WIDTH_M / 2}) / %(cell)s)
        ) grouped, ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile
        -- A cell lies wholly in one tile, and so does the mean of its features.
        WHERE cx >= ST_XMin(tile) AND cx < ST_XMax(tile) AND cy >= ST_YMin(tile) AND cy < ST_YMax(tile)
    ),
    shapes AS (
        SELECT f.id, f.properties, ST_Simplify(ST_Transform(f.geom, 3857), %(simplify)s, true) AS g
        FROM marked m JOIN layers_feature f ON f.id = m.id AND f.layer_id = %(layer)s::bigint
        WHERE NOT m.small
        UNION ALL
        -- A lone feature keeps its id and properties (a point is exactly
        -- where it was); a crowd becomes one point with its head count.
        SELECT CASE WHEN c.n = 1 THEN c.first_id END,
               CASE WHEN c.n = 1 THEN f.properties ELSE jsonb_build_object('{CLUSTER_ATTRIBUTE}', c.n) END,
               CASE WHEN c.n = 1 AND GeometryType(f.geom) = 'POINT' THEN {_MERCATOR_POINT}
                    ELSE ST_SetSRID(ST_MakePoint(c.cx, c.cy), 3857) END
        FROM cells c
        -- One primary-key look-up per lone feature, in the layer's partition
        -- (OFFSET 0 keeps the planner from turning it into a hash of the whole table).
        LEFT JOIN LATERAL (
            SELECT geom, properties FROM layers_feature
            WHERE id = c.first_id AND layer_id = %(layer)s::bigint AND c.n = 1 OFFSET 0
        ) f ON true
    )
    SELECT ST_AsMVT(t, %(name)s, {TILE_EXTENT}, 'geom', 'id') FROM (
        SELECT id, properties,
               ST_AsMVTGeom(g, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {TILE_EXTENT}, {TILE_BUFFER}, true) AS geom
        FROM shapes
    ) t
    WHERE t.geom IS NOT NULL
"""


def _params(layer: "Layer | TileSource", tile: TileAddress) -> dict:
    return {
        "layer": layer.pk,
        "name": layer.slug,
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "margin": TILE_BUFFER / TILE_EXTENT,
    }


def _run(sql: str, params: dict) -> bytes:
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


@dataclass(frozen=True)
class RawDraw:
    """A tile drawn whole (`_RAW_SQL`): the parameters it was drawn with,
    its candidates (capped at RAW_MAX_FEATURES + 1) and its bytes (to be
    thrown away when there are more than RAW_MAX_FEATURES)."""

    params: dict
    candidates: int
    data: bytes


def _raw_params(layer: "TileSource", tile: TileAddress) -> dict:
    unit_m = tile.width_m / TILE_EXTENT
    simplify = 0.0 if layer.geometry_type in POINT_TYPES else SIMPLIFY_UNITS * unit_m
    return {**_params(layer, tile), "simplify": simplify, "limit": RAW_MAX_FEATURES + 1}


def _drawn(params: dict, candidates: int, data) -> RawDraw:
    """A draw from `_RAW_SQL`'s two columns (no tile: no bytes)."""
    return RawDraw(params, candidates, bytes(data) if data is not None else b"")


def _raw_tile(layer: "TileSource", tile: TileAddress) -> RawDraw:
    params = _raw_params(layer, tile)
    # Prepared (parsed and planned once per connection; the generic plan is
    # the same index scan): 0.3-1 ms less than the same statement sent whole,
    # which is how the bench's floor sends its own (bench/README.md).
    with prepared_cursor(binary=True) as cursor:
        cursor.execute(_RAW_SQL, params)
        return _drawn(params, *cursor.fetchone())


# The layer's row and a tile drawn whole, in one statement: the round trip of
# the layer's own read saved when a tile is made (`tile_source_read_drawing`).
# No row when there is no such layer.
_SOURCE_AND_RAW_SQL = f"SELECT source.*, drawn.* FROM ({_SOURCE_SQL}) source, ({_RAW_SQL}) drawn"


def tile_source_read_drawing(
    slug: str, *, guess: TileSource, tile: TileAddress
) -> tuple[TileSource | None, RawDraw | None]:
    """The layer of that slug (as `tile_source_read`), and the tile drawn
    whole with the parameters of `guess` (the layer as last read), by the
    same statement: one round trip where a tile that is not cached took two.
    The draw is of the features as they are when the row is read (one
    snapshot); `tile_build` uses it only if the layer read gives the same
    parameters."""
    params = _raw_params(guess, tile)
    with prepared_cursor(binary=True) as cursor:
        cursor.execute(_SOURCE_AND_RAW_SQL, {**params, "slug": slug})
        row = cursor.fetchone()
    if row is None:
        return None, None
    return _source_of(row), _drawn(params, *row[_SOURCE_COLUMNS:])


def _aggregated_tile(layer: "TileSource", tile: TileAddress, *, grid_cells: int, aggregate_all: bool = False) -> bytes:
    cell_m = tile.width_m / grid_cells
    coarseness = GRID_CELLS / grid_cells
    return _run(
        _AGGREGATED_SQL,
        {
            **_params(layer, tile),
            "cell": cell_m,
            # Anything narrower than a cell is a dot at this zoom; "everything"
            # is anything narrower than the world.
            "small": WORLD_WIDTH_M * 2 if aggregate_all else cell_m,
            "simplify": SIMPLIFY_UNITS * coarseness * tile.width_m / TILE_EXTENT,
        },
    )


def _tile_index(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    lat = max(-85.0511287798066, min(85.0511287798066, lat))
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def layer_is_sparse_at(*, layer: "Layer | TileSource", z: int) -> bool:
    """Few enough features per tile at zoom `z`, on average over the layer's
    extent (kept by layer_touch), to draw them all."""
    layer = tile_source_of(layer)
    if layer.bounds is None:
        return True
    west, south, east, north = layer.bounds
    x0, y0 = _tile_index(west, north, z)
    x1, y1 = _tile_index(east, south, z)
    tiles = (x1 - x0 + 1) * (y1 - y0 + 1)
    return layer.feature_count <= RAW_AVERAGE_FEATURES * tiles


def tile_build(*, layer: "Layer | TileSource", tile: TileAddress, drawn: RawDraw | None = None) -> bytes:
    """The MVT bytes of one tile (b"" when it holds nothing), at most MAX_TILE_BYTES.

    A tile drawn whole is one statement; the aggregated ones are one each
    (an empty tile aggregates to nothing), so no transaction is held open.
    `drawn`: the tile drawn whole already (`tile_source_read_drawing`), used
    if it was drawn with this layer's parameters for this tile."""
    layer = tile_source_of(layer)
    if layer_is_sparse_at(layer=layer, z=tile.z):
        if drawn is None or drawn.params != _raw_params(layer, tile):
            drawn = _raw_tile(layer, tile)
        if drawn.candidates == 0:
            return b""
        if drawn.candidates <= RAW_MAX_FEATURES and len(drawn.data) <= MAX_TILE_BYTES:
            return drawn.data
    for step in range(COARSER_STEPS + 1):
        data = _aggregated_tile(layer, tile, grid_cells=GRID_CELLS // 2**step)
        if len(data) <= MAX_TILE_BYTES:
            return data
    logger.warning("tile %s/%s/%s/%s needed the last-resort aggregation", layer.slug, tile.z, tile.x, tile.y)
    return _aggregated_tile(layer, tile, grid_cells=LAST_RESORT_GRID_CELLS, aggregate_all=True)


def tile_cache_key(*, layer: "Layer | TileSource", tile: TileAddress) -> str:
    # The version moves with every change of the layer's features
    # (layer_touch), so an old tile is never served after an edit.
    return f"tile:{TILE_FORMAT}:{layer.slug}:{layer.pk}:v{layer.version}:{tile.z}/{tile.x}/{tile.y}"


def tile_cache_purge(*, slug: str, layer_id: int) -> int:
    """Drops every cached tile of a layer (all versions), e.g. once it is
    deleted; returns how many. Django's cache has no delete-by-pattern, so
    this asks the backend: Redis by SCAN, the local-memory cache by its keys.
    Whatever is missed (another backend, Redis unreachable) can never be
    served again, since the keys carry the layer's id, and expires by itself."""
    pattern = f"tile:*:{slug}:{layer_id}:*"
    recent_tiles.drop(lambda key: fnmatch.fnmatchcase(key, pattern))
    backend = caches["default"]
    made_pattern = backend.make_key(pattern)
    if isinstance(backend, RedisCache):
        try:
            client = backend._cache.get_client(write=True)
            keys = list(client.scan_iter(match=made_pattern, count=1000))
            if keys:
                client.delete(*keys)
        except RedisError as error:
            logger.warning("cached tiles of layer %s left to expire: %s", slug, error)
            return 0
        return len(keys)
    if isinstance(backend, LocMemCache):
        prefix = backend.make_key("")
        keys = [key for key in list(backend._cache) if fnmatch.fnmatchcase(key, made_pattern)]
        for key in keys:
            backend.delete(key.removeprefix(prefix))
        return len(keys)
    logger.info("cached tiles of layer %s left to expire (cache backend %s)", slug, type(backend).__name__)
    return 0


class RecentTiles(RecentValues[bytes]):
    """The tiles this process served last (`RecentValues`): a map asks for
    the same few dozen tiles again and again. The key holds the layer's
    version, read afresh on every request, so an edited layer's old tiles
    are never looked up again."""

    def __init__(self) -> None:
        super().__init__(size=len, largest_share=8)


recent_tiles = RecentTiles()
# The tiles this process made, on their way to the shared cache (WrittenBehind).
tile_writes = WrittenBehind(
    cache=lambda: cache, delay_s=lambda: settings.TILE_CACHE_WRITE_DELAY_SECONDS, max_bytes=64 * 2**20
)


@dataclass
class TilePrefetch:
    """The shared cache's answer for a tile under `guess`, the layer as
    this process last read it, asked for before the layer is read again
    (`tile_prefetch`): Redis answers while the request goes through the
    middleware. `value()` reads the reply once; `close()` reads it if nobody
    did: a connection is not given back with a reply on its way (a reply
    nobody wants fails quietly: the connection is dropped)."""

    guess: TileSource
    key: str
    _reply: Callable[[], object]
    _read: bool = False
    _value: bytes | None = None

    def value(self) -> bytes | None:
        if not self._read:
            self._read = True
            self._value = self._reply()
        return self._value

    def close(self) -> None:
        if not self._read:
            with contextlib.suppress(Exception):
                self.value()


# Per process: each layer as this process last read it, by slug. A tile's
# cache key holds the layer's version, which must be read afresh on every
# request; the version last read is what the next request's key most likely
# holds, so its GET can be sent before the layer is read (`tile_prefetch`).
_last_read: dict[str, TileSource] = {}


def _tile_in_range(kwargs: dict) -> TileAddress | None:
    z, x, y = kwargs["z"], kwargs["x"], kwargs["y"]
    return TileAddress(z, x, y) if 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z else None


def tile_prefetch(request) -> TilePrefetch | None:
    """The lean path's prefetch (gisportal/fastpath.py): the GET of the
    requested tile from the shared cache under the layer as this process
    last read it, sent before the middleware runs; None when there is
    nothing to ask for (a tile out of range, the layer not read yet, the tile
    in this process's recent tiles, or a client that holds this version: its
    answer is a 304)."""
    kwargs = request.resolver_match.kwargs
    tile = _tile_in_range(kwargs)
    guess = _last_read.get(kwargs["slug"])
    if tile is None or guess is None or _etag(guess) in _if_none_match(request):
        return None
    key = tile_cache_key(layer=guess, tile=tile)
    if settings.TILE_MEMORY_CACHE_BYTES and recent_tiles.get(key) is not None:
        return None
    return TilePrefetch(guess, key, get_started(cache, key))


def tile_lookup(
    *,
    layer: "Layer | TileSource",
    tile: TileAddress,
    prefetched: TilePrefetch | None = None,
    drawn: RawDraw | None = None,
) -> tuple[bytes, Callable[[], None] | None]:
    """The tile from this process's recent tiles, else the shared cache, else
    made; and what keeps it in the caches it was missing from, for the caller
    to run (the view runs it once the answer is sent: the client does not
    wait for Redis to store a tile it already has; `tile_writes` sets it
    there, in batches). `prefetched`: the shared cache's answer if it was
    asked for already, used when it was asked for under this key. `drawn`:
    the tile drawn already, as the layer was read (`tile_source_read_drawing`,
    after the shared cache had none under the layer as last read); when it
    was drawn with this layer's parameters the shared cache is not asked
    again: the tile is new."""
    key = tile_cache_key(layer=layer, tile=tile)
    budget = settings.TILE_MEMORY_CACHE_BYTES
    data = recent_tiles.get(key) if budget else None
    if data is not None:
        return data, None
    if drawn is not None and drawn.params == _raw_params(layer, tile):
        data = None
    elif prefetched is not None and prefetched.key == key:
        data = prefetched.value()
    else:
        data = cache.get(key)
    built = data is None
    if built:
        data = tile_build(layer=layer, tile=tile, drawn=drawn)

    def keep() -> None:
        if built:
            tile_writes.put(key, data, TILE_CACHE_SECONDS)
        if budget:
            recent_tiles.put(key, data, budget=budget)

    return data, keep


def tile_get(*, layer: "Layer | TileSource", tile: TileAddress) -> bytes:
    """The tile, kept in the caches before it is returned."""
    data, keep = tile_lookup(layer=layer, tile=tile)
    if keep is not None:
        keep()
    return data


class _TileResponse(HttpResponse):
    """Runs `after` when the server closes the response, i.e. once its bytes
    are sent (WSGI servers and Django's test client call close())."""

    after: Callable[[], None] | None = None

    def sent(self) -> None:
        """Runs `after`, once; the lean path (gisportal/fastpath.py) calls it
        instead of close(), which would send Django's request_finished."""
        after, self.after = self.after, None
        try:
            if after is not None:
                after()
        except Exception:  # the tile was served; a cache that failed to keep it only costs a rebuild
            logger.exception("tile not kept in the cache")

    def close(self) -> None:
        try:
            self.sent()
        finally:
            super().close()


# --- Views ----------------------------------------------------------------------


class _TileApiView(APIView):
    """Session or token authentication decides which layers the caller sees.
    Not rate-limited like the public look-ups: a map asks for dozens of tiles
    per move, and tiles come from the cache. Errors are JSON."""

    throttle_classes: list = []
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # Tiles are answered as raw bytes; only errors and TileJSON go
        # through a renderer, and they are JSON whatever the Accept header says.
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def _etag(layer: "Layer | TileSource") -> str:
    return f'"{TILE_FORMAT}-{layer.pk}-{layer.version}"'


def _cache_control(layer: "Layer | TileSource") -> str:
    scope = "public" if layer.visibility == Visibility.PUBLIC else "private"
    return f"{scope}, max-age={HTTP_MAX_AGE_SECONDS}"


class TileApi(_TileApiView):
    @extend_schema(
        responses={(200, MVT_CONTENT_TYPE): OpenApiTypes.BINARY, 204: None},
        summary="Mapbox Vector Tile of a registry layer (204 when empty)",
        operation_id="registry_tile",
    )
    def get(self, request, slug: str, z: int, x: int, y: int):
        tile = tile_address_parse(z, x, y)
        layer = tile_source_for(actor=actor_for(request.user), slug=slug)
        return tile_response(request, layer=layer, tile=tile)


def tile_response(
    request,
    *,
    layer: TileSource,
    tile: TileAddress,
    prefetched: TilePrefetch | None = None,
    drawn: RawDraw | None = None,
) -> HttpResponse:
    """The answer for a tile of a layer the caller may see: 304 when the
    client holds this version, else the tile (204 when empty)."""
    etag = _etag(layer)
    if etag in _if_none_match(request):
        response = HttpResponse(status=304)
    else:
        data, keep = tile_lookup(layer=layer, tile=tile, prefetched=prefetched, drawn=drawn)
        response = _TileResponse(data, content_type=MVT_CONTENT_TYPE, status=200 if data else 204)
        response.after = keep
        if not data:
            del response["Content-Type"]
    response["ETag"] = etag
    response["Cache-Control"] = _cache_control(layer)
    return response


# --- the lean path (gisportal/fastpath.py) -------------------------------------------


def tile_accept(query) -> bool:
    """A tile takes no query parameters; the view ignores any, and so does the lean path."""
    return True


def tile_answer(request, accepted: bool, view) -> HttpResponse:
    """What TileApi answers an anonymous caller (gisportal/fastpath.py takes
    no other) for a tile of a layer it may see, without DRF's dispatch: the
    same layer read, visibility rule, caches and headers (DRF's Allow). A
    tile out of range, a missing or hidden layer: the view's own 400 or 404.
    The shared cache was asked for the tile under the layer's last-read
    version before the middleware ran (`tile_prefetch`); its answer is used
    only if the layer read is of that version, and when it has none the
    tile is drawn by the statement that reads the layer (`_layer_read`)."""
    kwargs = request.resolver_match.kwargs
    tile = _tile_in_range(kwargs)
    if tile is None:
        return view(request, **kwargs)
    actor = actor_for(request.user)  # the anonymous user, read from the empty session as on Django's path
    slug, prefetched = kwargs["slug"], request.lean_prefetched
    layer, drawn = reconnecting(lambda: _layer_read(actor, slug, tile, prefetched))
    if layer is None:
        _last_read.pop(slug, None)
    else:
        _last_read[slug] = layer
    if not tile_source_visible(actor, layer):
        return view(request, **kwargs)
    response = tile_response(request, layer=layer, tile=tile, prefetched=prefetched, drawn=drawn)
    return with_view_headers(response, view_set_up(request, view))


def _layer_read(
    actor, slug: str, tile: TileAddress, prefetched: TilePrefetch | None
) -> tuple[TileSource | None, RawDraw | None]:
    """The layer; and, when the shared cache holds no tile under the layer
    as last read, which the caller may see and which is drawn whole at this
    zoom, the tile drawn by the same statement (`tile_source_read_drawing`):
    a tile that has to be made costs one round trip to PostgreSQL, not two.
    The cache's reply is in by now (it was asked for before the middleware
    ran), so waiting for it first costs little."""
    guess = prefetched.guess if prefetched is not None else None
    if (
        guess is None
        or not tile_source_visible(actor, guess)
        or not layer_is_sparse_at(layer=guess, z=tile.z)
        or prefetched.value() is not None
    ):
        return tile_source_read(slug), None
    return tile_source_read_drawing(slug, guess=guess, tile=tile)


def _if_none_match(request) -> set[str]:
    # From META: request.headers builds a copy of every header first (30 us a request on a slow machine).
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


def _bounds(layer: Layer) -> list[float]:
    if layer.extent is None:
        return [-180.0, -85.0511287798066, 180.0, 85.0511287798066]
    min_lon, min_lat, max_lon, max_lat = layer.extent.extent
    return [min_lon, min_lat, max_lon, max_lat]


def _fit_zoom(bounds: list[float]) -> int:
    """A zoom at which the bounds fill a 512-px-wide map, roughly."""
    span = max(bounds[2] - bounds[0], (bounds[3] - bounds[1]) * 1.2, 1e-6)
    return max(0, min(TILEJSON_MAX_ZOOM, int(math.log2(360 * 2 / span))))


def _fields(layer: Layer) -> dict[str, str]:
    fields = {f["name"]: FIELD_TYPES.get(f.get("type", "string"), "String") for f in layer.schema if f.get("name")}
    fields[CLUSTER_ATTRIBUTE] = "Number"
    return fields


def tilejson_for(*, layer: Layer, request) -> dict:
    # reverse() needs integers, and build_absolute_uri() would escape the
    # braces: the placeholders go in last.
    first_tile = reverse("registry-tile", kwargs={"slug": layer.slug, "z": 0, "x": 0, "y": 0})
    template = request.build_absolute_uri(first_tile.removesuffix("0/0/0.pbf")) + "{z}/{x}/{y}.pbf"
    bounds = _bounds(layer)
    return {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "version": f"1.0.{layer.version}",
        "attribution": layer.attribution,
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, _fit_zoom(bounds)],
        "vector_layers": [
            {
                "id": layer.slug,
                "description": layer.title,
                "minzoom": 0,
                "maxzoom": TILEJSON_MAX_ZOOM,
                "fields": _fields(layer),
            }
        ],
    }


class TileJsonApi(_TileApiView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="TileJSON 3.0.0 of a registry layer's vector tiles",
        operation_id="registry_tilejson",
    )
    def get(self, request, slug: str):
        layer = layer_get_for_user(actor=actor_for(request.user), slug=slug)
        response = Response(tilejson_for(layer=layer, request=request))
        response["Cache-Control"] = _cache_control(layer)
        return response
