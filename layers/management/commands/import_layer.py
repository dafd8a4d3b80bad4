import logging
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from tqdm import tqdm

from gisportal.filestore import is_local, media_storage
from layers.models import ImportJob, Layer
from layers.registries.importing import ImportRefused, import_job_create, import_job_run


class Command(BaseCommand):
    # The checks are the server's (URLs, settings, models: 0.8 s of loading
    # every URL module); a data command needs none of them.
    requires_system_checks = []
    help = (
        "Import a GeoPackage, zipped Shapefile, GeoJSON, KML or CSV (lon/lat or WKT columns) into a registry "
        "layer, synchronously with a progress bar. Bad rows are listed in an error report; a refused file "
        "changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path", type=Path)
        parser.add_argument("--mode", choices=ImportJob.Mode.values, default=ImportJob.Mode.REPLACE)
        parser.add_argument("--user", help="Username recorded as the author of the change.")

    def handle(self, *args, slug: str, path: Path, mode: str, user: str | None, **options):
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            raise CommandError(f"Không có lớp / no layer with slug {slug!r}")
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / file not found: {path}")
        acting_user = None
        if user:
            acting_user = get_user_model().objects.filter(username=user).first()
            if acting_user is None:
                raise CommandError(f"Không có người dùng / no user {user!r}")
        if options["verbosity"] >= 2:
            # Where the import's time went: the importer logs it at INFO (to
            # the root logger's console handler, standard error).
            logging.getLogger("layers.registries.importing").setLevel(logging.INFO)
        try:
            job = import_job_create(
                layer=layer, acting_user=acting_user, source_name=path.name, mode=mode, path=path, enqueue=False
            )
        except ImportRefused as refusal:
            raise CommandError(str(refusal)) from refusal

        with tqdm(desc=f"{layer.slug}", unit=" rows", disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            # Claimed with heartbeats like a worker's job: if this process dies,
            # the outbox sweep hands the job to a worker.
            ran = import_job_run(job_id=job.pk, progress=progress)
        if ran is None:
            raise CommandError(f"Công việc {job.pk} đã được tiến trình khác nhận / job {job.pk} was taken by a worker")
        job = ran

        counts = (
            f"imported {job.rows_imported}, repaired {job.rows_repaired}, rejected {job.rows_rejected}, "
            f"flagged {job.rows_flagged} of {job.rows_done} rows (job {job.pk})"
        )
        if job.error_report_path:
            storage = media_storage()
            # In an object store the report is read through the portal's API.
            local = is_local(storage)
            report = storage.path(job.error_report_path) if local else reverse("import-job-errors", args=[job.pk])
            self.stdout.write(f"Báo cáo lỗi / error report: {report}")
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"{job.message} [{counts}]")
        self.stdout.write(self.style.SUCCESS(f"{job.message} [{counts}]"))
