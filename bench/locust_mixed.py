"""The mixed public load of `bench/load_mixed.py`, as a locustfile.

Each simulated citizen, behind the TLS proxy (X-Forwarded-Proto: https; its
own X-Forwarded-For address, which the proxy writes and the public rate
limit counts), opens the map page and then, with 0.1-0.4 s between requests,
asks what a citizen's browser or an outside client asks: the nearest service
points of a random spot, the communes at a zoom, a search of the catalogue,
the public look-up of a dossier, a page of registry features in a bounding
box and a vector tile. What each request may ask for (codes, layer, spots,
tiles) comes from the environment the runner sets (LOAD_SAMPLE, a JSON file).
The "floor" user asks for one small static file only, under the same
server, users and waits: what this machine's web server and this load
generator reach with no application work at all.

Run by `bench/load_mixed.py`; by hand:
    LOAD_SAMPLE=sample.json locust -f bench/locust_mixed.py --headless -u 200 -r 50 -t 60s \\
        --host http://127.0.0.1:8000 PublicUser
"""

import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task

SAMPLE = (
    json.loads(Path(os.environ["LOAD_SAMPLE"]).read_text(encoding="utf-8")) if os.environ.get("LOAD_SAMPLE") else {}
)


class _Citizen(FastHttpUser):
    abstract = True
    wait_time = between(0.1, 0.4)

    def on_start(self):
        self.headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}",
            "Accept-Encoding": "gzip",
        }

    def get(self, path: str, name: str):
        with self.client.get(path, headers=self.headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")


class PublicUser(_Citizen):
    def on_start(self):
        super().on_start()
        self.get("/map/", "map page")

    @task(4)
    def nearest(self):
        west, south, east, north = SAMPLE["bbox"]
        lon, lat = random.uniform(west, east), random.uniform(south, north)
        self.get(f"/api/v1/service-points/nearest/?lon={lon:.6f}&lat={lat:.6f}&limit=5", "nearest")

    @task(2)
    def units(self):
        self.get("/api/v1/admin-units/?level=commune&era=2025&geometry=simplified", "units")

    @task(2)
    def procedures(self):
        self.get(f"/api/v1/procedures/?q={random.choice(SAMPLE['words'])}", "procedures")

    @task(2)
    def lookup(self):
        self.get(f"/api/v1/dossiers/lookup/?code={random.choice(SAMPLE['codes'])}", "lookup")

    @task(2)
    def ogc_items(self):
        west, south, east, north = random.choice(SAMPLE["item_boxes"])
        path = f"/ogc/collections/{SAMPLE['layer']}/items?bbox={west},{south},{east},{north}&limit=100&f=json"
        self.get(path, "ogc items")

    @task(2)
    def tile(self):
        z, x, y = random.choice(SAMPLE["tiles"])
        self.get(f"/tiles/{SAMPLE['layer']}/{z}/{x}/{y}.pbf", "tile")

    @task(1)
    def map_page(self):
        self.get("/map/", "map page")


class FloorUser(_Citizen):
    @task
    def static_file(self):
        self.get(SAMPLE["static"], "static file")
