"""Benchmark of what each path of the mixed public load costs the server:
each path of bench/load_mixed.py's scenario alone, from 8 kept-alive
connections, against the server started as `./portal serve --production`
starts it, on the demo data; and, with --baseline-checkout, the same
against another checkout's server, taking turns.

    .venv/bin/python bench/load_paths.py                                  # every path, 3 rounds of 4 s
    .venv/bin/python bench/load_paths.py --baseline-checkout ../before    # and an older checkout's server

Why: the mixed load's figure (bench/load_mixed.py) is the sum of seven
paths and of locust's own CPU on the same two cores, and it moved by a sixth
between runs of the same code on the machines of sessions 9 and 10. What one
path costs the server a request (the web server's CPU, PostgreSQL's,
Redis's) is steadier, and two checkouts' servers measured in turn on the
same data say which paths a change made cheaper, and by how much.

Works in its own database (default <main db>_bench_paths, cloned from
template_postgis, marked with a comment, migrated), loaded by
`manage.py load_demo --dossiers N`, as load_mixed.py's. The requests are
load_mixed.py's: the same sample of spots, codes, words, boxes and tiles, and
the same headers (the TLS proxy's X-Forwarded-Proto and X-Forwarded-For,
gzip accepted). The map page needs the static files' manifest of the
production settings: it is measured when var/staticfiles holds one (made
by load_mixed.py or `./portal serve --production`), else left out, saying so.

The baseline, measured in the same run: a small static file (whitenoise,
from memory) under the same server and connections: what a request costs
with no application work. Each round runs every server in turn on one path
before the next (alternating which goes first). Reported a path: req/s and
CPU ms a request (median of the rounds), the ratio of its CPU to the static
file's and, with a baseline checkout, ours over the baseline's."""

import argparse
import json
import random
import signal
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    Server,
    baselines_left_out,
    bench_open,
    conninfo_from_url,
    exit_on_sigterm,
    machine_facts,
    private_redis,
    production_env,
    production_profile,
    say,
)

DB_MARKER = "scratch database of bench/load_paths.py: dropped and reloaded at will"
PATHS = ("nearest", "units", "procedures", "lookup", "items", "tile", "map", "static")
MANIFEST = ROOT / "var" / "staticfiles" / "staticfiles.json"
LEFT_OUT = {
    "static file": "every application path: no database, no cache, no Django view (whitenoise answers from "
    "memory): what a request costs this server with no application work",
    "the bench": "the TLS proxy, a load generator on other cores (the client shares the server's two), the mix "
    "(each path alone: bench/load_mixed.py measures them together), signed-in pages and writes",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)} (default all)")
    p.add_argument("--seconds", type=float, default=4.0, help="length of one timed run (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, alternating the servers' order (default 3)")
    p.add_argument("--connections", type=int, default=8, help="kept-alive client connections (default 8)")
    p.add_argument("--dossiers", type=int, default=50_000, help="demo dossier history (default 50,000)")
    p.add_argument("--workers", type=int, help="server workers (default cores + 1, as production)")
    p.add_argument("--baseline-checkout", type=Path, help="also run this checkout's server, in turn with ours")
    p.add_argument("--recreate", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", help="bench database (default: <main db>_bench_paths)")
    p.add_argument("--settings", default="gisportal.settings.test", help="settings of the loading (not the server)")
    p.add_argument("--seed", type=int, default=2025)
    args = p.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or args.connections < 1:
        p.error("--rounds and --connections must be at least 1, --seconds more than 0")
    args.paths = [name for name in args.paths.split(",") if name]
    unknown = set(args.paths) - set(PATHS)
    if unknown:
        p.error(f"--paths: unknown {', '.join(sorted(unknown))} (known: {', '.join(PATHS)})")
    return args


def requests_of(path: str, sample: dict, rng: random.Random, n: int = 400) -> list[bytes]:
    """n HTTP requests for one path, as load_mixed.py's users send them."""
    targets = []
    for _ in range(n):
        if path == "nearest":
            west, south, east, north = sample["bbox"]
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            targets.append(f"/api/v1/service-points/nearest/?lon={lon:.6f}&lat={lat:.6f}&limit=5")
        elif path == "units":
            targets.append("/api/v1/admin-units/?level=commune&era=2025&geometry=simplified")
        elif path == "procedures":
            targets.append(f"/api/v1/procedures/?q={quote(rng.choice(sample['words']))}")
        elif path == "lookup":
            targets.append(f"/api/v1/dossiers/lookup/?code={rng.choice(sample['codes'])}")
        elif path == "items":
            west, south, east, north = rng.choice(sample["item_boxes"])
            targets.append(
                f"/ogc/collections/{sample['layer']}/items?bbox={west},{south},{east},{north}&limit=100&f=json"
            )
        elif path == "tile":
            z, x, y = rng.choice(sample["tiles"])
            targets.append(f"/tiles/{sample['layer']}/{z}/{x}/{y}.pbf")
        elif path == "map":
            targets.append("/map/")
        else:
            targets.append(sample["static"])
    return [
        (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nAccept-Encoding: gzip\r\n"
            f"X-Forwarded-For: 10.{i % 200}.{(i // 200) % 250}.7\r\n\r\n"
        ).encode()
        for i, target in enumerate(targets)
    ]


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.perf_counter()
    main_url, bench_db, bench_url = bench_open(
        args, default_suffix="bench_paths", marker=DB_MARKER, sizes=f"demo data, {args.dossiers:,} dossiers"
    )
    import load_mixed
    from nearest import CpuMeter, load_run

    loaded = load_mixed.demo_loaded(args.dossiers)
    sample = load_mixed.sample(random.Random(args.seed))  # the static file's name is replaced below
    paths = list(args.paths)
    if not MANIFEST.exists():  # the production settings serve and name static files from the manifest
        for name in {"map", "static"} & set(paths):
            say(f"{name} left out: no {MANIFEST.relative_to(ROOT)} (bench/load_mixed.py makes it)")
            paths.remove(name)
    checkouts = {"ours": ROOT}
    if args.baseline_checkout:
        checkouts["before"] = args.baseline_checkout.resolve()
    servers: dict[str, tuple[Server, Server]] = {}
    figures_by_path: dict[str, dict] = {}  # each path's figures a server (`_figures`), and the ratio
    try:
        for name, root in checkouts.items():
            redis_server = private_redis()
            env = production_env(bench_url, redis_server.port, DJANGO_STATIC_ROOT=str(MANIFEST.parent))
            argv, profile_info = production_profile(workers=args.workers)
            servers[name] = (Server(argv, env=env, cwd=root, name=f"gisportal-{name}"), redis_server)
        for server, _redis in servers.values():
            server.wait_ready("/api/v1/procedures/?q=khai", timeout=90, headers={"X-Forwarded-Proto": "https"})
        sample["static"] = _static_path()
        say(f"servers: {', '.join(checkouts)}; {profile_info['workers']} workers x {profile_info['threads']} threads")
        conninfo = conninfo_from_url(main_url)
        for path in paths:
            requests = requests_of(path, sample, random.Random(args.seed))
            for server, _redis in servers.values():  # warm every worker and thread on this path
                load_run(server.port, requests, connections=args.connections, seconds=max(0.3, args.seconds / 4))
            runs: dict[str, list[dict]] = {name: [] for name in servers}
            for r in range(args.rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    server, redis_server = servers[name]
                    meter = CpuMeter(server.proc.pid, redis_server.proc.pid, conninfo, bench_db)
                    run = load_run(
                        server.port, requests, connections=args.connections, seconds=args.seconds, meter=meter
                    )
                    runs[name].append(run)
            figures = figures_by_path[path] = {name: _figures(server_runs) for name, server_runs in runs.items()}
            if "before" in figures:
                figures["ours_over_before_cpu"] = _ratio(figures, "ours", "before")
            say(_line(path, figures))
    finally:
        for server, redis_server in servers.values():
            server.stop()
            redis_server.stop()
    out: dict = {"paths": figures_by_path, "rounds": args.rounds, "seconds": args.seconds}
    out["connections"] = args.connections
    out["demo"] = loaded
    out["profile"] = profile_info
    out["baseline_checkout"] = str(checkouts.get("before")) if "before" in checkouts else None
    static = out["paths"].get("static", {}).get("ours")
    if static:
        for figures in out["paths"].values():
            figures["ours_cpu_over_static"] = round(figures["ours"]["cpu_ms"] / static["cpu_ms"], 2)
    out["errors"] = sum(f[name]["errors"] for f in out["paths"].values() for name in checkouts)
    out.update(baselines_left_out(LEFT_OUT))
    out.update(machine_facts(started))
    print(json.dumps(out, ensure_ascii=False))
    return 0 if out["errors"] == 0 else 1


def _static_path() -> str:
    """The hashed name of load_mixed.py's static file in the production
    settings' manifest (the loading's settings name it unhashed)."""
    if not MANIFEST.exists():
        return ""
    return "/static/" + json.loads(MANIFEST.read_text(encoding="utf-8"))["paths"]["maps/basemap.css"]


def _figures(runs: list[dict]) -> dict:
    """The median over the rounds of req/s and of each part's CPU a request."""
    parts = ("web", "postgres", "redis")
    cpu = {part: statistics.median(run["cpu_ms_per_request"][part] for run in runs) for part in parts}
    return {
        "rps": round(statistics.median(run["rps"] for run in runs), 1),
        "cpu_ms": round(statistics.median(sum(run["cpu_ms_per_request"][p] for p in parts) for run in runs), 3),
        "cpu_ms_by_part": {part: round(value, 3) for part, value in cpu.items()},
        "cpu_ms_by_round": [round(sum(run["cpu_ms_per_request"][p] for p in parts), 3) for run in runs],
        "errors": sum(len(run["errors"]) for run in runs),
        "first_errors": [e for run in runs for e in run["errors"]][:3],
    }


def _ratio(figures: dict, ours: str, before: str) -> float | None:
    return round(figures[ours]["cpu_ms"] / figures[before]["cpu_ms"], 2) if figures[before]["cpu_ms"] else None


def _line(path: str, figures: dict) -> str:
    """One path's figures a server, as printed."""
    parts = []
    for name in ("ours", "before"):
        if name not in figures:
            continue
        by_part = figures[name]["cpu_ms_by_part"]
        parts.append(
            f"{name} {figures[name]['rps']:6.0f} req/s, CPU {figures[name]['cpu_ms']:.2f} ms a request "
            f"(web {by_part['web']:.2f}, postgres {by_part['postgres']:.2f}, redis {by_part['redis']:.2f}), "
            f"{figures[name]['errors']} errors"
        )
    line = f"  {path:10} " + "; ".join(parts)
    if "ours_over_before_cpu" in figures:
        line += f"; ours/before {figures['ours_over_before_cpu']}"
    return line


if __name__ == "__main__":
    sys.exit(main())
