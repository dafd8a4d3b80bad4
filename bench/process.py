"""Benchmark of a procedure's own process (issue #15): what a declaration adds
to the per-dossier work of a worklist page, against the same dossiers with
no declaration, measured in the same run on the same rows.

    .venv/bin/python bench/process.py --quick   # 25 rows (one worklist page) x 200 rounds
    .venv/bin/python bench/process.py           # 25 rows x 2,000 rounds

For each of `--rows` unsaved dossiers (statuses spread over the open ones)
of a procedure with the four-step declaration below, and of the same
procedure with none:
1. actions: the moves a leader is offered (`workflow.transitions_from`, with
   the steps read from the procedure, as `selectors.dossier_actions` does);
2. row: the actions plus the step due of the row (`process.dossier_step_plan`,
   the worklist's "step due"); the baseline row has only the actions, as a
   procedure without declaration costs.
The working calendar is built once (no exceptions), as the page does.
Ratios are p50 with / p50 without. The last line of stdout is JSON.

Not measured: database queries (a declaration adds none: it is a JSON field
of the procedure the worklist already joins; the page reads the calendar
exceptions once, only when a row's procedure has a declaration), template
rendering, and HTTP. Needs no database: nothing is saved."""

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import baselines_left_out, say, summarize  # noqa: E402

DECLARATION = [
    {"action": "receive", "roles": ["desk_officer"], "days": 1},
    {"action": "assign", "roles": ["desk_officer"], "days": 1},
    {"action": "start", "roles": ["processing_officer"], "days": 2},
    {"action": "approve", "roles": ["leader"], "days": 1},
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--settings", default="gisportal.settings.test")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    rounds = args.rounds or (200 if args.quick else 2000)
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    from dossiers.calendar import WorkingCalendar, _clock
    from dossiers.models import Dossier, Procedure, Status
    from dossiers.process import current_step, dossier_step_plan, procedure_steps
    from dossiers.workflow import transitions_from
    from gisportal.accounts.models import Role

    calendar = WorkingCalendar(
        exceptions={}, day_start=_clock(settings.WORKDAY_START), day_end=_clock(settings.WORKDAY_END)
    )
    statuses = [Status.RECEIVED, Status.ASSIGNED, Status.PROCESSING, Status.APPROVED, Status.WAITING_SUPPLEMENT]
    start = timezone.make_aware(dt.datetime(2026, 8, 3, 9))

    def rows(process) -> list:
        procedure = Procedure(code="9.9", name="bench", processing_days=5, process=process)
        return [
            Dossier(
                procedure=procedure,
                status=statuses[i % len(statuses)],
                submitted_at=start + dt.timedelta(hours=7 * i),
                received_at=start + dt.timedelta(hours=7 * i),
                paused_working_days=i % 3,
            )
            for i in range(args.rows)
        ]

    declared, plain = rows(DECLARATION), rows([])

    def actions(dossier):
        return transitions_from(dossier.status, Role.LEADER, procedure_steps(dossier.procedure))

    def row(dossier):
        offered = actions(dossier)
        step = current_step(dossier_step_plan(dossier, calendar=calendar)) if dossier.procedure.process else None
        return offered, step

    # Sanity before timing: the declaration narrows and the step dues exist.
    assert all(row(d)[1] is not None for d in declared if d.status != Status.APPROVED)
    assert all(row(d)[1] is None for d in plain)

    def timed(work, dossiers) -> list[int]:
        for d in dossiers:
            work(d)
        samples = []
        for _ in range(rounds):
            began = time.perf_counter_ns()
            for d in dossiers:
                work(d)
            samples.append(time.perf_counter_ns() - began)
        return samples

    results = {}
    for name, work in (("actions", actions), ("row", row)):
        without = summarize(timed(work, plain))
        with_ = summarize(timed(work, declared))
        results[name] = {
            "without_ms": round(without["p50"], 4),
            "with_ms": round(with_["p50"], 4),
            "ratio_p50": round(with_["p50"] / without["p50"], 2),
        }
        say(
            f"{name}: {args.rows} rows, p50 {without['p50']:.3f} ms without a declaration, "
            f"{with_['p50']:.3f} ms with ({results[name]['ratio_p50']}x), {rounds} rounds"
        )
    print(
        json.dumps(
            {
                "bench": "process",
                "rows": args.rows,
                "rounds": rounds,
                "python": platform.python_version(),
                **results,
                "not_measured": "database queries (none added), template rendering, HTTP",
                **baselines_left_out({"without a declaration": "the declared steps read for each row (the cost)"}),
            }
        )
    )


if __name__ == "__main__":
    main()
