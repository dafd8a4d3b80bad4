"""The floor of the nearest look-up over HTTP (bench/nearest.py --throughput):
a minimal WSGI app that runs the planar KNN query of the benchmark's `sql`
mode (prepared once per connection) and answers its rows as JSON. No Django,
no middleware, no parameter checking beyond float(), no geodesic re-ranking,
no throttle: what the same server, the same loopback and the same database
do at the least.

    DATABASE_URL=postgis://... PYTHONPATH=bench python -m gisportal.serving --application nearest_floor_app:application
"""

import json
import os
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg

from gisportal.dbsession import SESSION_WARM_DEFAULT_BYTES, session_warm_raw

SQL = {
    kind: f"""
SELECT id, code, kind, name, address, opening_hours, counters, ST_X(geom), ST_Y(geom)
FROM layers_servicepoint
WHERE is_active {"" if kind == "any" else "AND kind = %(kind)s"}
ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
LIMIT 5
"""
    for kind in ("any", "provincial_centre", "commune_desk", "post_office")
}

_url = urlsplit(os.environ["DATABASE_URL"])
CONNINFO = psycopg.conninfo.make_conninfo(
    host=_url.hostname or "127.0.0.1",
    port=str(_url.port or 5432),
    user=unquote(_url.username or ""),
    password=unquote(_url.password or ""),
    dbname=unquote(_url.path.lstrip("/")),
)
_local = threading.local()
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _cursor():
    cursor = getattr(_local, "cursor", None)
    if cursor is None:
        conn = psycopg.connect(CONNINFO, autocommit=True, prepare_threshold=0)  # persistent, one per thread
        session_warm_raw(conn, int(os.environ.get("DATABASE_SESSION_WARM_BYTES", SESSION_WARM_DEFAULT_BYTES)))
        cursor = _local.cursor = conn.cursor()
    return cursor


def application(environ, start_response):
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    try:
        lon, lat = float(query["lon"]), float(query["lat"])
        sql = SQL[query.get("kind", "any")]
    except (KeyError, ValueError):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"lon, lat, kind"]
    cursor = _cursor()
    cursor.execute(sql, {"lon": lon, "lat": lat, "kind": query.get("kind")}, prepare=True)
    rows = cursor.fetchall()
    body = _encode(
        {"features": [{"id": r[0], "coordinates": [r[7], r[8]], "properties": list(r[1:7])} for r in rows]}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
