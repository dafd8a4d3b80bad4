"""A short schemathesis run (bench/schemathesis_run.py, every check) against
the project's own server as an anonymous caller, a citizen and an official:
no 5xx, no failure of any check, no error. The full run (15,000+ requests)
is the same command with more examples; its figures are in the README.

The callers are accounts of this test (the demo accounts exist only under
DEBUG); whatever the run wrote (every row added to any table: dossiers,
ratings, phone codes, gateway messages, ...; codes and counts put back) is
removed afterwards, so later tests find the data as it was."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

# The test database exists only when a collected test asks for it; the
# accounts are written by a module fixture, outside the test's transaction,
# so that the server process sees them.
pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parent.parent / "bench" / "schemathesis_run.py"
PASSWORD = "x-Strong-pass-1"


@pytest.fixture(scope="module")
def callers(django_db_setup, django_db_blocker):
    from dossiers.models import CodeCounter
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import Feature
    from tests.committed_dossiers import rows_added_remove, table_marks

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        marks = table_marks()
        counters = list(CodeCounter.objects.all())
        features = Feature.objects.count()
        citizen = user_ensure(username=f"st-citizen-{suffix}", password=PASSWORD, role="citizen")
        official = user_ensure(
            username=f"st-leader-{suffix}", password=PASSWORD, role="leader", agency=Agency.objects.get(code="so-tp")
        )
    try:
        yield {"citizen": citizen.username, "official": official.username}
    finally:
        with django_db_blocker.unblock():
            rows_added_remove(marks, counters)  # the callers' accounts too
            # An official of so-tp edits no registry layer: none was touched.
            assert Feature.objects.count() == features


def test_a_short_schemathesis_run_finds_nothing(live_server_url, callers, tmp_path):
    command = [
        sys.executable,
        str(BENCH),
        "--url",
        live_server_url,
        "--citizen",
        callers["citizen"],
        "--official",
        callers["official"],
        "--password",
        PASSWORD,
        "--max-examples",
        "3",
        "--phases",
        "examples,fuzzing,stateful",
        # Wrong passwords from one client would lock it out (sign-in lockout)
        # for the tests after this one: the full run covers the sign-in.
        "--exclude-path",
        "/api/v1/auth/token/",
        "--close-connections",
        "--out",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.stdout.strip(), run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    logs = "\n".join((tmp_path / f"{name}.log").read_text()[-3000:] for name in summary["callers"])
    assert set(summary["callers"]) == {"anonymous", "citizen", "official"}
    assert summary["requests"] >= 300, summary
    assert summary["server_errors"] == 0, logs
    assert (summary["failures"], summary["errors"]) == (0, 0), logs
    assert run.returncode == 0, run.stdout
    # The signed-in callers stayed signed in until the sign-out pass at the end.
    for name in ("citizen", "official"):
        assert summary["callers"][name]["token_alive_after_main_pass"] is True, summary["callers"][name]
        assert (tmp_path / f"{name}-revoking.har").is_file()
