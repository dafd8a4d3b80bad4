"""The base map's one configuration (maps.basemap): the offline default on
every map page, an operator's XYZ tiles when configured, and a bad setting
refused at start."""

import json
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db

TILES = "https://tiles.example.gov.vn/{z}/{x}/{y}.png"


def _base_map(html: str) -> dict:
    match = re.search(r'<script id="base-map-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


@override_settings(BASE_MAP_KIND="xyz", BASE_MAP_URL=TILES, BASE_MAP_ATTRIBUTION="© Sở KH&CN", BASE_MAP_MAX_ZOOM=17)
def test_an_operator_s_tiles_reach_every_map(client):
    for path in ("/map/", "/planning/coverage/", "/feedback/"):
        config = _base_map(client.get(path).content.decode())
        assert config["tiles"] == {"url": TILES, "attribution": "© Sở KH&CN", "maxZoom": 17}, path
        assert config["context"]["points"] == "/api/v1/service-points/?kind=any&limit=10000"
    # The main map's own config says the same (an older field, kept).
    main = client.get("/map/").content.decode()
    assert (
        json.loads(re.search(r'id="map-config" type="application/json">(.*?)</script>', main, re.S).group(1))["tiles"][
            "url"
        ]
        == TILES
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"BASE_MAP_KIND": "wms"}, "BASE_MAP_KIND must be none, xyz or style"),
        ({"BASE_MAP_KIND": "style"}, "BASE_MAP_KIND=style needs BASE_MAP_URL"),
        ({"BASE_MAP_KIND": "style", "BASE_MAP_URL": "ftp://styles.example/s.json"}, "http(s)://"),
        ({"BASE_MAP_KIND": "xyz", "BASE_MAP_URL": "https://tiles.example/a.png"}, "{z}, {x} and {y}"),
    ],
)
def test_a_bad_setting_stops_the_start(env, complaint):
    command = [sys.executable, "-c", "import django; django.setup()"]
    run = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "gisportal.settings.test", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0 and complaint in run.stderr
