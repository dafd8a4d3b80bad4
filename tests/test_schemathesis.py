"""A short schemathesis run (bench/schemathesis_run.py, every check) against
the project's own server as an anonymous caller, a citizen and an official:
no 5xx, no failure of any check, no error. The full run (15,000+ requests)
is the same command with more examples; its figures are in the README."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parent.parent / "bench" / "schemathesis_run.py"


def test_a_short_schemathesis_run_finds_nothing(live_server_url, tmp_path):
    command = [
        sys.executable,
        str(BENCH),
        "--url",
        live_server_url,
        "--max-examples",
        "2",
        "--phases",
        "examples,fuzzing,stateful",
        "--close-connections",
        "--out",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    logs = "\n".join((tmp_path / f"{name}.log").read_text()[-3000:] for name in summary["callers"])
    assert set(summary["callers"]) == {"anonymous", "citizen", "official"}
    assert summary["requests"] >= 300, summary
    assert summary["server_errors"] == 0, logs
    assert (summary["failures"], summary["errors"]) == (0, 0), logs
    assert run.returncode == 0, run.stdout
