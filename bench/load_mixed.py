"""Benchmark of the server under a mixed public load: N simulated citizens
(default 200) through locust, against the server started as `./portal serve
--production` starts it, on the demo data.

    .venv/bin/python bench/load_mixed.py --quick   # 50 users, 2 rounds of 15 s (~2 min with setup)
    .venv/bin/python bench/load_mixed.py           # 200 users, 3 rounds of 60 s

Works in its own database (default <main db>_bench_load, cloned from
template_postgis, marked with a comment, migrated), loaded by
`manage.py load_demo --dossiers N` (units of both eras, service points, the
catalogue, the sector registries, a dossier history). Static files are
collected (hashed, compressed) into var/staticfiles when a static file
changed since the last manifest, as `./portal serve --production` does.
locust lives in its own virtual environment (var/locust-venv, made here with
pip from the configured index when missing): it is a load generator, not a
part of the portal.

The scenario (bench/locust_mixed.py): every user opens the map page, then
asks, with 0.1-0.4 s between requests, in these proportions: nearest
service points of a random spot 4, the communes (simplified outlines) 2, a
catalogue search 2, the public look-up of a dossier 2, 100 registry features
in a bounding box (OGC API) 2, a vector tile (z12-14) 2, the map page 1.
Each user sends its own X-Forwarded-For (the TLS proxy on this host writes
it; TRUSTED_PROXIES=127.0.0.1) so each has its own public rate limit,
untouched (300/min): at most ~200 requests a minute a user here.

The baseline, measured in the same run under the same server, users and
waits: the floor users ask for one small static file (whitenoise, from
memory): what the server and this load generator reach on this machine with no
application work. Rounds alternate the order (floor, mixed; mixed, floor).
Reported: req/s, p50/p95 (locust's percentiles, ms), failures, per
endpoint, the ratio to the floor and to the 213 req/s of the issue (#13, a
figure measured from outside, not in this run). What it leaves out: the
browser's own static files after the page (cached with hashed names in
production), TLS (the proxy's work), signed-in pages and writes. The load
generator runs on the same 2 cores as the server: on this machine it takes
about a core at full speed, which the floor shows.
"""

import argparse
import csv
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    Server,
    baselines_left_out,
    bench_open,
    exit_on_sigterm,
    machine_facts,
    private_redis,
    production_env,
    production_profile,
    say,
)

DB_MARKER = "scratch database of bench/load_mixed.py: dropped and reloaded at will"
LOCUST_VENV = ROOT / "var" / "locust-venv"
LOCUST_VERSION = "2.47.0"
LOCUSTFILE = ROOT / "bench" / "locust_mixed.py"
ISSUE_BASELINE_RPS = 213.0  # issue #13: 200 users, measured from outside before this work
LAYER = "schools"
WORDS = ["khai sinh", "kết hôn", "đất đai", "xây dựng", "hộ kinh doanh", "chứng thực", "hộ tịch", "giấy phép"]


LEFT_OUT = {
    "floor (a static file)": "every application path: no database, no cache, no Django view (whitenoise "
    "answers from memory); it is what this server and client do on these cores at best",
    "issue's 213 req/s": "comparability: it came from another client and another mix",
    "the bench": "the TLS proxy, a load generator on other cores (locust shares the server's two), the "
    "officials' pages, uploads and writes (only citizens' reads and the map page)",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="50 users, 2 rounds of 15 s, 5,000 dossiers")
    p.add_argument("--users", type=int, help="simulated citizens (default 200; quick 50)")
    p.add_argument("--seconds", type=int, help="length of one timed run (default 60; quick 15)")
    p.add_argument("--rounds", type=int, help="rounds of (floor, mixed) in alternating order (default 3; quick 2)")
    p.add_argument("--spawn-rate", type=float, default=50.0, help="users started a second (default 50)")
    p.add_argument("--dossiers", type=int, help="demo dossier history (default 50,000; quick 5,000)")
    p.add_argument("--workers", type=int, help="server workers (default cores + 1, as production)")
    p.add_argument("--threads", type=int, help="application threads a worker (default production's)")
    p.add_argument("--recreate", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", help="bench database (default: <main db>_bench_load)")
    p.add_argument("--settings", default="gisportal.settings.test", help="settings of the loading (not the server)")
    p.add_argument("--seed", type=int, default=2025)
    args = p.parse_args()
    args.users = args.users or (50 if args.quick else 200)
    args.seconds = args.seconds or (15 if args.quick else 60)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.dossiers = args.dossiers or (5_000 if args.quick else 50_000)
    return args


def demo_loaded(dossiers: int) -> dict:
    from django.core.management import call_command

    from dossiers.models import Dossier

    started = time.perf_counter()
    if Dossier.objects.filter(is_demo=True).count() != dossiers:
        say(f"loading the demo data with {dossiers:,} dossiers (manage.py load_demo) ...")
        call_command("load_demo", dossiers=dossiers, feedback=50, verbosity=0)
    return {"dossiers": dossiers, "s": round(time.perf_counter() - started, 1)}


def _tile(lon: float, lat: float, z: int) -> list[int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return [z, x, y]


def sample(rng: random.Random) -> dict:
    """What the users may ask for, from the loaded data."""
    from django.contrib.gis.db.models import Extent
    from django.templatetags.static import static

    from dossiers.models import Dossier
    from layers.models import AdministrativeUnit, Feature

    province = AdministrativeUnit.objects.filter(era="2025", level="province").aggregate(e=Extent("geom"))["e"]
    codes = list(Dossier.objects.filter(is_demo=True).order_by("?").values_list("code", flat=True)[:500])
    geoms = Feature.objects.filter(layer__slug=LAYER).order_by("?").values_list("geom", flat=True)[:300]
    points = [g.coords for g in geoms]
    if not codes or not points:
        sys.exit(f"no demo dossiers or no '{LAYER}' features in the bench database")
    boxes = [
        [round(lon - 0.02, 5), round(lat - 0.015, 5), round(lon + 0.02, 5), round(lat + 0.015, 5)]
        for lon, lat in points
    ]
    tiles = sorted({tuple(_tile(lon, lat, rng.choice((12, 13, 14)))) for lon, lat in points})
    return {
        "bbox": list(province),
        "codes": codes,
        "words": WORDS,
        "layer": LAYER,
        "item_boxes": boxes,
        "tiles": [list(t) for t in tiles],
        # Under the production settings: the hashed name from the manifest.
        "static": static("maps/basemap.css"),
    }


def collect_static(env: dict) -> None:
    """collectstatic with the production settings when a static file changed
    since the last manifest (as `./portal serve --production`)."""
    root = Path(env.get("DJANGO_STATIC_ROOT") or ROOT / "var" / "staticfiles")
    manifest = root / "staticfiles.json"
    sources = [ROOT / "static", *ROOT.glob("*/static")]
    if manifest.exists():
        stamp = manifest.stat().st_mtime
        if not any(f.stat().st_mtime > stamp for d in sources for f in d.rglob("*") if f.is_file()):
            return
    say("collecting static files (hashed and compressed; a minute the first time) ...")
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def locust_bin() -> Path:
    binary = LOCUST_VENV / "bin" / "locust"
    if not binary.exists():
        say(f"installing locust {LOCUST_VERSION} into {LOCUST_VENV.relative_to(ROOT)} ...")
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=True)
        pip = [str(LOCUST_VENV / "bin" / "pip"), "install", "-q", f"locust=={LOCUST_VERSION}"]
        subprocess.run(pip, check=True)
    return binary


def _cpu_seconds(pid: int, *, reaped: bool) -> float:
    """User + system CPU of a process (and, with `reaped`, of its children
    that have ended and been waited for), from /proc; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(x) for x in fields[11 : 15 if reaped else 13])  # utime stime [cutime cstime]
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(master_pid: int) -> float:
    """CPU used so far by the web server: the master with its reaped children
    (workers replaced) and the workers alive now."""
    total = _cpu_seconds(master_pid, reaped=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            total += _cpu_seconds(int(stat.parent.name), reaped=True)
    return total


def locust_run(binary: Path, *, port: int, user_class: str, args, sample_file: str, server_pid: int) -> dict:
    """One headless locust run; its aggregated and per-endpoint figures, and
    the server's CPU a request (the web server's processes only, not PostgreSQL's
    nor Redis's: a figure that other sessions' load on the machine moves far
    less than the rate)."""
    cpu_before = server_cpu_seconds(server_pid)
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        prefix = str(Path(tmp) / "run")
        argv = [str(binary), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--csv", prefix]
        argv += ["-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.seconds}s"]
        argv += ["--host", f"http://127.0.0.1:{port}", "--stop-timeout", "5", "--exit-code-on-error", "0", user_class]
        env = {**os.environ, "LOAD_SAMPLE": sample_file}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=args.seconds + 120)
        cpu_s = server_cpu_seconds(server_pid) - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"locust failed ({done.returncode}):\n{done.stderr[-2000:]}")
        with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        failures = []
        if Path(f"{prefix}_failures.csv").exists():
            with open(f"{prefix}_failures.csv", encoding="utf-8") as f:
                failures = [f"{r['Name']}: {r['Error']} x{r['Occurrences']}" for r in csv.DictReader(f)]

    def figures(row: dict) -> dict:
        return {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1),
            # locust writes N/A when no request of that row completed (a tiny run on a busy machine).
            "p50_ms": None if row["50%"] == "N/A" else float(row["50%"]),
            "p95_ms": None if row["95%"] == "N/A" else float(row["95%"]),
        }

    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {
        **figures(total),
        "server_cpu_ms_per_request": round(cpu_s * 1000 / max(int(total["Request Count"]), 1), 2),
        "endpoints": {r["Name"]: figures(r) for r in rows if r["Name"] != "Aggregated"},
        "first_failures": failures[:3],
    }


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _median(values: list[float | None]) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    started = time.perf_counter()
    _main_url, _bench_db, bench_url = bench_open(
        args, default_suffix="bench_load", marker=DB_MARKER, sizes=f"demo data, {args.dossiers:,} dossiers"
    )
    loaded = demo_loaded(args.dossiers)
    binary = locust_bin()
    redis_server = private_redis()
    env = production_env(bench_url, redis_server.port)
    os.environ.update({k: v for k, v in env.items() if k in ("DJANGO_SECRET_KEY", "REDIS_URL", "CACHE_URL")})
    collect_static(env)
    profile, profile_info = production_profile(workers=args.workers, threads=args.threads)
    server = Server(profile, env=env, name="gisportal")
    runs: dict[str, list[dict]] = {"floor": [], "mixed": []}
    try:
        # The sample's static path is the manifest's hashed name: read with the production settings.
        script = "import django, json, sys; django.setup(); sys.path.insert(0, 'bench'); import load_mixed, random;"
        script += f" print(json.dumps(load_mixed.sample(random.Random({args.seed}))))"
        drawn = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
            f.write(drawn.stdout.strip().splitlines()[-1])
            sample_file = f.name
        server.wait_ready("/api/v1/procedures/?q=khai", timeout=90, headers={"X-Forwarded-Proto": "https"})
        say(f"server: {profile_info['workers']} workers x {profile_info['threads']} threads (production profile)")
        for r in range(args.rounds):
            order = ["floor", "mixed"] if r % 2 == 0 else ["mixed", "floor"]
            for mode in order:
                user_class = "FloorUser" if mode == "floor" else "PublicUser"
                run = locust_run(
                    binary,
                    port=server.port,
                    user_class=user_class,
                    args=args,
                    sample_file=sample_file,
                    server_pid=server.proc.pid,
                )
                runs[mode].append(run)
                say(
                    f"  round {r + 1}/{args.rounds} {mode:5}: {run['rps']:7.1f} req/s, p50 {_ms(run['p50_ms'])} ms, "
                    f"p95 {_ms(run['p95_ms'])} ms, {run['failures']} failures of {run['requests']:,}, "
                    f"server CPU {run['server_cpu_ms_per_request']:.2f} ms a request"
                )
        Path(sample_file).unlink(missing_ok=True)
    finally:
        server.stop()
        redis_server.stop()
    out: dict = {"users": args.users, "seconds": args.seconds, "rounds": args.rounds, "profile": profile_info}
    out["demo"] = loaded
    for mode, results in runs.items():
        out[mode] = {
            "rps_median": round(_median([x["rps"] for x in results]), 1),
            "rps_min": min(x["rps"] for x in results),
            "rps_max": max(x["rps"] for x in results),
            "p50_ms_median": _median([x["p50_ms"] for x in results]),
            "p95_ms_median": _median([x["p95_ms"] for x in results]),
            "server_cpu_ms_per_request_median": _median([x["server_cpu_ms_per_request"] for x in results]),
            "server_cpu_ms_per_request_by_round": [x["server_cpu_ms_per_request"] for x in results],
            "requests": sum(x["requests"] for x in results),
            "failures": sum(x["failures"] for x in results),
            "first_failures": [f for x in results for f in x["first_failures"]][:3],
        }
    out["mixed"]["endpoints_p95_ms"] = {
        name: _median([x["endpoints"][name]["p95_ms"] for x in runs["mixed"] if name in x["endpoints"]])
        for name in runs["mixed"][-1]["endpoints"]
    }
    mixed = out["mixed"]
    floor_rps = out["floor"]["rps_median"]
    out["ratio_mixed_to_floor_rps"] = round(mixed["rps_median"] / floor_rps, 3) if floor_rps else None
    out["ratio_mixed_to_issue_213_rps"] = round(mixed["rps_median"] / ISSUE_BASELINE_RPS, 2)
    out["target_met"] = bool(
        mixed["rps_median"] >= 3 * ISSUE_BASELINE_RPS
        and (mixed["p95_ms_median"] or 0) <= 300
        and mixed["failures"] == 0
        and mixed["requests"] > 0
    )
    say()
    say(
        f"mixed load, {args.users} users: {mixed['rps_median']:.0f} req/s (floor {out['floor']['rps_median']:.0f}, "
        f"ratio {out['ratio_mixed_to_floor_rps']}), p95 {_ms(mixed['p95_ms_median'])} ms, "
        f"{mixed['failures']} failures; "
        f"{out['ratio_mixed_to_issue_213_rps']}x the issue's 213 req/s (target 3x, p95 <= 300 ms, 0 errors: "
        f"{'met' if out['target_met'] else 'not met'})"
    )
    out.update(baselines_left_out(LEFT_OUT))
    out.update(machine_facts(started))
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
