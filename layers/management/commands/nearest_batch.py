from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from layers.batch_nearest import (
    DEFAULT_CHUNK,
    BatchNearestError,
    nearest_run_create,
    nearest_run_execute,
    point_sources,
)
from layers.models import NearestRun, ServicePointKind

MAX_CHUNK = 10_000_000


class Command(BaseCommand):
    help = (
        "Assign every point of a source (dossiers, feedback, or the features of a Point registry layer) to its "
        "nearest active service point of a kind, in geodesic metres, as one run stored all-or-nothing "
        "(NearestRun, NearestAssignment). Runs here, synchronously; planners' runs go through the Celery queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help=f"One of: {', '.join(sorted(point_sources()))}.")
        parser.add_argument("--kind", required=True, help=f"Service point kind: {', '.join(ServicePointKind.values)}.")
        parser.add_argument("--layer", help="Slug or id of a Point registry layer (with --source features).")
        parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="Points read and written at a time.")
        parser.add_argument("--user", help="Username recorded as the one who asked for the run.")

    def handle(self, *args, source: str, kind: str, layer: str | None, chunk: int, user: str | None, **options):
        if not 1 <= chunk <= MAX_CHUNK:
            # A chunk leaves the database as one bytea of 24 bytes a point (at most 1 GB).
            raise CommandError(f"--chunk: từ 1 đến {MAX_CHUNK:,} / must be from 1 to {MAX_CHUNK:,}")
        layer_id = None
        if layer is not None:
            from layers.models import Layer

            found = Layer.objects.filter(slug=layer).first() or (
                Layer.objects.filter(pk=int(layer)).first() if layer.isdigit() else None
            )
            if found is None:
                raise CommandError(f"--layer: không có lớp dữ liệu / no layer {layer!r}")
            layer_id = found.pk
        acting_user = None
        if user:
            acting_user = get_user_model().objects.filter(username=user).first()
            if acting_user is None:
                raise CommandError(f"--user: không có người dùng / no user {user!r}")
        try:
            run = nearest_run_create(
                source=source, kind=kind, layer_id=layer_id, acting_user=acting_user, enqueue=False
            )
        except BatchNearestError as error:
            raise CommandError(f"--{error.field}: {error.vi} / {error.en}") from error
        progress = None if options["verbosity"] == 0 else (lambda text: self.stderr.write(text))
        ran = nearest_run_execute(run_id=run.pk, chunk=chunk, progress=progress)
        if ran is None:
            raise CommandError(f"Lượt {run.pk} đã được tiến trình khác nhận / run {run.pk} was taken by a worker")
        if ran.status != NearestRun.Status.SUCCEEDED:
            raise CommandError(f"{ran.message} (run {ran.pk})")
        mean = f"{ran.mean_distance_m:,.0f}" if ran.mean_distance_m is not None else "-"
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {ran.pk}: {ran.points:,} points of {ran.source} to {ran.service_points:,} {ran.kind} "
                f"service points, mean {mean} m, in {(ran.finished_at - ran.started_at).total_seconds():.1f} s"
            )
        )
