"""Schemathesis over the whole OpenAPI schema of a running portal, as three
callers: anonymous, a citizen and an official. Every check of schemathesis
runs (`--checks all`: no 5xx, status codes, content types, headers and
bodies as the schema declares them, schema-valid input accepted and invalid
input refused, authentication enforced where declared, ...).

    python bench/schemathesis_run.py --url http://127.0.0.1:8000
    python bench/schemathesis_run.py --url http://127.0.0.1:8000 --max-examples 20   # a quick look

Run it against a throwaway copy of the demo data (it submits dossiers, moves
them and edits registry features as the callers may), with a generous
PUBLIC_LOOKUP_RATE on the server or the public look-ups mostly answer 429
(which the schema declares, so it is no failure, only fewer useful requests).
Tokens come from POST /api/v1/auth/token/ ({"username", "password"} ->
{"token"}) and are sent as `Authorization: Token <token>`; all of them are
fetched before the first run, so that the fuzzing of the sign-in endpoint
cannot lock the demo accounts out first.

Prints per caller the requests sent, the 5xx answers and the failures by
check; the last line is JSON. Exit status 1 when any caller had a failure.
Operations whose validity depends on data the schema cannot describe are
listed with the reason in bench/schemathesis.toml."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
DEFAULT_PASSWORD = "BacNinh-demo-2025"


def token_for(base_url: str, username: str, password: str) -> str:
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/v1/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["token"]
    except urllib.error.HTTPError as refused:
        raise SystemExit(f"no token for {username}: {refused.code} {refused.read()[:300]!r}") from refused


# Operations that revoke the caller's own token (sign-out, sign-out everywhere,
# deleting a token of the list, which holds the caller's own). Run in the same
# pass as the rest, the first sign-out made every later request of a signed-in
# caller anonymous (a run measured 6,718 × 401 of 10,483 as the citizen): they
# get a pass of their own, after the rest, and the token is checked in between.
REVOKING = r"^/api/v1/auth/(logout|logoutall|tokens/\{token_id\})/$"


def token_alive(base_url: str, token: str) -> bool:
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/v1/auth/tokens/",
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False


def run_signed_in(args, name: str, token: str, out_dir: Path) -> dict:
    """Everything but the revoking operations, then (token checked) those."""
    main = run_caller(args, name, token, out_dir, ["--exclude-path-regex", REVOKING])
    main["token_alive_after_main_pass"] = alive = token_alive(args.url, token)
    if not alive:
        main["failures"]["token revoked during the main pass"] = 1
    if args.include_path_regex:
        return main  # a partial run: the revoking pass only when asked for by the filters
    revoking = run_caller(args, f"{name}-revoking", token, out_dir, ["--include-path-regex", REVOKING])
    for key in ("requests", "test_cases", "server_errors", "errors", "seconds"):
        main[key] = round(main[key] + revoking[key], 1)
    main["statuses"] = dict(sorted((Counter(main["statuses"]) + Counter(revoking["statuses"])).items()))
    for check, count in revoking["failures"].items():
        main["failures"][check] = main["failures"].get(check, 0) + count
    main["log"] += f", {revoking['log']}"
    return main


def run_caller(args, name: str, token: str | None, out_dir: Path, filters: list[str] = ()) -> dict:
    """One schemathesis run; its figures from the JSON report and the HAR file."""
    report, har, log = out_dir / f"{name}.json", out_dir / f"{name}.har", out_dir / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        args.url.rstrip("/") + "/api/schema/",
        "--url",
        args.url.rstrip("/"),
        "--checks",
        "all",
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--generation-database",
        "none",
        "--report",
        "json,har",
        "--report-json-path",
        str(report),
        "--report-har-path",
        str(har),
        "--max-failures",
        "10000",
    ]
    if args.max_time:
        command += ["--max-time", str(args.max_time)]
    if args.phases:
        command += ["--phases", args.phases]
    for pattern in args.include_path_regex or []:
        command += ["--include-path-regex", pattern]
    for path in args.exclude_path or []:
        command += ["--exclude-path", path]
    command += list(filters)
    if token:
        command += ["--header", f"Authorization: Token {token}"]
    if args.close_connections:
        # Django's development server cannot read a chunked request body and
        # takes what is left of it for the next request on the connection.
        command += ["--header", "Connection: close"]
    started = time.monotonic()
    with log.open("w") as output:
        # Run in the report folder: schemathesis keeps a cache of its finds in `.schemathesis/`.
        subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, cwd=out_dir, check=False)
    elapsed = time.monotonic() - started
    data = json.loads(report.read_text()) if report.exists() else {}
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    statuses = Counter(str(entry["response"]["status"]) for entry in entries)
    failures = Counter()
    for failure in data.get("failures", []):
        failures[f"{failure['code']} {failure['title']}"] += failure.get("count", 1)
    return {
        "requests": len(entries),
        "test_cases": data.get("test_cases", {}).get("generated", 0),
        "operations": data.get("operations", {}).get("tested", 0),
        "server_errors": sum(n for status, n in statuses.items() if int(status) >= 500),
        "statuses": dict(sorted(statuses.items())),
        "failures": dict(failures),
        "errors": len(data.get("errors", [])),
        "seconds": round(elapsed, 1),
        "log": str(log),
        "complete": bool(data.get("complete")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of the running portal")
    parser.add_argument("--citizen", default="congdan")
    parser.add_argument("--official", default="lanhdao")
    parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD))
    parser.add_argument("--callers", default="anonymous,citizen,official", help="comma-separated subset")
    parser.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--max-time", type=int, default=0, help="seconds per caller (0: no limit)")
    parser.add_argument("--phases", help="schemathesis phases (default: all of examples,coverage,fuzzing,stateful)")
    parser.add_argument("--include-path-regex", action="append", help="only these operations (repeatable)")
    parser.add_argument("--exclude-path", action="append", help="leave this path out (repeatable)")
    parser.add_argument("--out", type=Path, help="folder for the reports (default: a temporary one)")
    parser.add_argument(
        "--close-connections", action="store_true", help="one connection per request (for `manage.py runserver`)"
    )
    args = parser.parse_args()

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="schemathesis-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = args.callers.split(",")
    users = {"anonymous": None, "citizen": args.citizen, "official": args.official}
    tokens = {name: token_for(args.url, users[name], args.password) if users[name] else None for name in wanted}

    results = {}
    for name in wanted:
        token = tokens[name]
        result = run_signed_in(args, name, token, out_dir) if token else run_caller(args, name, None, out_dir)
        results[name] = result
        print(
            f"{name:10} {result['requests']:6} requests, {result['operations']} operations, "
            f"{result['server_errors']} × 5xx, {sum(result['failures'].values())} failures, "
            f"{result['errors']} errors, {result['seconds']} s  ({result['log']})"
        )
        for check, count in sorted(result["failures"].items()):
            print(f"{'':10}   {count:5}  {check}")
    summary = {
        "requests": sum(r["requests"] for r in results.values()),
        "server_errors": sum(r["server_errors"] for r in results.values()),
        "failures": sum(sum(r["failures"].values()) for r in results.values()),
        "errors": sum(r["errors"] for r in results.values()),
        "callers": {
            name: {
                k: r[k]
                for k in (
                    "requests",
                    "server_errors",
                    "failures",
                    "errors",
                    "statuses",
                    "seconds",
                    "token_alive_after_main_pass",
                )
                if k in r
            }
            for name, r in results.items()
        },
        "reports": str(out_dir),
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["server_errors"] or summary["failures"] or summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
