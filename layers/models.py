"""Administrative units of each era, the service points that sit in them, and
the sector registries (layers of features) kept on the same map."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy

from gisportal.outbox import OutboxJob, outbox_index


class Era(models.TextChoices):
    # Named after the map in force: three levels until 30 Jun 2025, two after.
    PRE_2025 = "2019", "2019 (tỉnh - huyện - xã)"
    POST_2025 = "2025", "2025 (tỉnh - xã)"


class UnitLevel(models.TextChoices):
    PROVINCE = "province", "Tỉnh / Province"
    DISTRICT = "district", "Huyện / District"
    COMMUNE = "commune", "Xã / Commune"


class AdministrativeUnit(models.Model):
    code = models.CharField(max_length=10, help_text="Official national unit code (GSO).")
    era = models.CharField(max_length=4, choices=Era.choices)
    level = models.CharField(max_length=10, choices=UnitLevel.choices)
    name = models.CharField(max_length=100)
    full_name = models.CharField(max_length=150)
    name_en = models.CharField(max_length=150, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    valid_from = models.DateField(null=True, blank=True, help_text="Empty: in force since before our records.")
    valid_to = models.DateField(null=True, blank=True, help_text="Last day in force; empty: still in force.")
    population = models.PositiveIntegerField(null=True, blank=True)
    population_year = models.PositiveSmallIntegerField(null=True, blank=True)
    geom = models.MultiPolygonField(srid=4326, spatial_index=False)  # indexed in Meta
    # About 50 m tolerance: enough for a province map on a phone, a tenth of the bytes.
    geom_simplified = models.MultiPolygonField(srid=4326, null=True, blank=True)
    successors = models.ManyToManyField(
        "self", through="UnitSuccession", symmetrical=False, related_name="predecessors", blank=True
    )

    class Meta:
        verbose_name = gettext_lazy("administrative unit")
        verbose_name_plural = gettext_lazy("administrative units")
        constraints = [models.UniqueConstraint(fields=["era", "code"], name="unit_code_unique_per_era")]
        indexes = [
            GistIndex(fields=["geom"], name="unit_geom_gist"),
            models.Index(fields=["level", "valid_from", "valid_to"], name="unit_level_validity"),
        ]
        ordering = ["era", "code"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.code}, {self.era})"

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent_id else None


class UnitSuccession(models.Model):
    """An old unit (wholly or in part) became a new one."""

    class Source(models.TextChoices):
        RESOLUTION = "resolution", "Nghị quyết / merger resolution"
        SPATIAL = "spatial", "Spatial rule (representative point)"

    predecessor = models.ForeignKey(AdministrativeUnit, on_delete=models.CASCADE, related_name="successor_links")
    successor = models.ForeignKey(AdministrativeUnit, on_delete=models.CASCADE, related_name="predecessor_links")
    effective_on = models.DateField()
    source = models.CharField(max_length=12, choices=Source.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["predecessor", "successor"], name="succession_unique"),
        ]


class ServicePointKind(models.TextChoices):
    PROVINCIAL_CENTRE = "provincial_centre", "Trung tâm Phục vụ hành chính công tỉnh"
    COMMUNE_DESK = "commune_desk", "Bộ phận một cửa cấp xã"
    POST_OFFICE = "post_office", "Bưu điện (Bưu chính công ích)"


class ServicePoint(models.Model):
    """A place that receives dossiers or returns results."""

    code = models.CharField(max_length=40, unique=True, help_text="Stable key used by imports.")
    kind = models.CharField(max_length=20, choices=ServicePointKind.choices)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    geom = models.PointField(srid=4326, spatial_index=False)  # indexed in Meta
    opening_hours = models.CharField(max_length=200, blank=True, help_text="e.g. Mo-Fr 07:30-11:30,13:30-17:00")
    counters = models.PositiveSmallIntegerField(default=1)
    phone = models.CharField(max_length=30, blank=True)
    receiving_unit_identifier = models.CharField(
        max_length=20, blank=True, help_text="Circular 01/2018 unit identifier used in dossier codes (000.00.13.H04)."
    )
    admin_unit = models.ForeignKey(
        AdministrativeUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="service_points"
    )
    # The database also keeps the unit's code on the point (admin_unit_code, by triggers; migration 0009)
    # for the nearest look-up; the model does not declare it: nothing else reads it, no one writes it.
    is_demo = models.BooleanField(default=False, help_text="Placed by the demo rule, not a surveyed location.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("service point")
        verbose_name_plural = gettext_lazy("service points")
        indexes = [
            GistIndex(fields=["geom"], name="servicepoint_geom_gist"),
            # Metre radius filters go through geography; this index serves them.
            GistIndex(Cast("geom", models.PointField(srid=4326, geography=True)), name="servicepoint_geog_gist"),
            # Nearest-of-a-kind walks this one (btree_gist): a rare kind is not
            # found by filtering a distance-ordered scan of every point.
            GistIndex(fields=["kind", "geom"], name="servicepoint_kind_geom_gist"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(counters__gte=1), name="servicepoint_counters_positive"),
        ]
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


# --- sector registries ----------------------------------------------------------


class GeometryType(models.TextChoices):
    POINT = "Point", "Point"
    LINESTRING = "LineString", "LineString"
    POLYGON = "Polygon", "Polygon"
    MULTIPOINT = "MultiPoint", "MultiPoint"
    MULTILINESTRING = "MultiLineString", "MultiLineString"
    MULTIPOLYGON = "MultiPolygon", "MultiPolygon"


class FieldType(models.TextChoices):
    STRING = "string", "Text"
    INTEGER = "integer", "Integer"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Công khai / Public"
    INTERNAL = "internal", "Nội bộ cán bộ / Officials only"
    DEPARTMENT = "department", "Chỉ đơn vị sở hữu / Owning department only"


class Layer(models.Model):
    """A sector registry: clinics, schools, land parcels, permits.

    `schema` lists the properties every feature carries:
    `[{"name": "beds", "type": "integer", "filterable": true}, ...]`;
    `version` grows with every change so caches (tiles, counts) can key on it.
    """

    slug = models.SlugField(max_length=60, unique=True, help_text="Collection id in OGC API and tile URLs.")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="layers")
    geometry_type = models.CharField(max_length=20, choices=GeometryType.choices)
    schema = models.JSONField(default=list, blank=True)
    visibility = models.CharField(max_length=12, choices=Visibility.choices, default=Visibility.INTERNAL)
    editors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="editable_layers")
    time_field = models.CharField(max_length=60, blank=True, help_text="Property holding the feature's date.")
    attribution = models.CharField(max_length=300, blank=True)
    license = models.CharField(max_length=100, blank=True)
    is_demo = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    feature_count = models.PositiveIntegerField(default=0)
    extent = models.PolygonField(srid=4326, null=True, blank=True, spatial_index=False)
    distinct_fields = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="String fields whose values nearly all differ, set by a replace import: the layer's partition "
        "indexes each by a btree of its own and leaves them out of its GIN (layers/registries/partitions.py).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("layer")
        verbose_name_plural = gettext_lazy("layers")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title

    def field(self, name: str) -> dict | None:
        return next((f for f in self.schema if f.get("name") == name), None)


class Feature(models.Model):
    """A registry feature. In the database the table is partitioned by layer
    (migration 0008, layers/registries/partitions.py): one partition per
    layer, its primary key (id, layer_id); queries filter by layer and the
    planner reads that layer's partition only."""

    # No layer_id index: a partition holds one layer.
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="features", db_index=False)
    geom = models.GeometryField(srid=4326, spatial_index=False)  # indexed in Meta
    properties = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Per partition: a GiST on geom alone is built sorted by PostGIS
            # (fast), which btree_gist's (layer, geom) was not.
            GistIndex(fields=["geom"], name="feature_geom_gist"),
            # The properties' indexes are each partition's own (migration 0010,
            # partitions.py `properties_index_builds`): a GIN for equality
            # filters on any schema field, and a btree for each of the layer's
            # `distinct_fields`, which the GIN leaves out.
        ]


class FeatureChange(models.Model):
    """Every edit of a registry feature: who, when, before and after."""

    class Action(models.TextChoices):
        CREATE = "create", "Tạo / Create"
        UPDATE = "update", "Sửa / Update"
        DELETE = "delete", "Xoá / Delete"
        IMPORT = "import", "Nhập tệp / Import"

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="changes")
    feature_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = gettext_lazy("feature change")
        verbose_name_plural = gettext_lazy("feature changes")
        indexes = [models.Index(fields=["layer", "-at"], name="featurechange_layer_at")]
        ordering = ["-at"]


class ImportJob(OutboxJob):
    """A registry import, run by a Celery worker through the outbox
    (gisportal/outbox.py): published on commit, claimed, kept alive by
    heartbeats, requeued or failed by the sweep if its worker dies."""

    outbox_task = "layers.tasks.import_layer_task"
    outbox_gave_up_note = (
        "Lớp dữ liệu không thay đổi; hãy tải tệp lên lại.",
        "The layer is unchanged; upload the file again.",
    )
    outbox_on_give_up = "layers.registries.importing.import_job_files_discard"

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ / Queued"
        RUNNING = "running", "Đang chạy / Running"
        SUCCEEDED = "succeeded", "Hoàn tất / Succeeded"
        FAILED = "failed", "Thất bại / Failed"

    class Mode(models.TextChoices):
        REPLACE = "replace", "Thay thế / Replace all features"
        APPEND = "append", "Bổ sung / Append"

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="imports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    source_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500, help_text="Generated name under MEDIA_ROOT/imports.")
    format = models.CharField(max_length=20, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.REPLACE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_repaired = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_flagged = models.PositiveIntegerField(default=0, help_text="Far outside the province.")
    source_crs = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    error_report_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("import job")
        verbose_name_plural = gettext_lazy("import jobs")
        ordering = ["-created_at"]

    @property
    def progress(self) -> float | None:
        if not self.rows_total:
            return None
        return min(1.0, self.rows_done / self.rows_total)


class NearestRun(OutboxJob):
    """A batch assignment of every point of a source (the dossiers, the
    feedback reports, the features of a point registry) to its nearest active
    service point of one kind, in geodesic metres on WGS84
    (`layers.batch_nearest`). Run by a Celery worker through the outbox, or
    by `manage.py nearest_batch`; its rows (NearestAssignment) are written in
    one transaction with its success, so a run has all of them or none."""

    outbox_task = "layers.tasks.nearest_run_task"
    outbox_gave_up_note = ("Không có kết quả nào được ghi; hãy chạy lại.", "No result was written; run it again.")

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ / Queued"
        RUNNING = "running", "Đang chạy / Running"
        SUCCEEDED = "succeeded", "Hoàn tất / Succeeded"
        FAILED = "failed", "Thất bại / Failed"

    source = models.CharField(max_length=20, help_text="A registered point source: dossiers, feedback, features.")
    layer = models.ForeignKey(
        Layer, null=True, blank=True, on_delete=models.CASCADE, help_text="The registry, for source=features."
    )
    kind = models.CharField(max_length=20, choices=ServicePointKind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    points = models.PositiveIntegerField(null=True, blank=True, help_text="Points assigned (those with a location).")
    service_points = models.PositiveIntegerField(null=True, blank=True, help_text="Candidates of the kind.")
    max_distance_m = models.FloatField(null=True, blank=True)
    mean_distance_m = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        verbose_name = gettext_lazy("nearest service point run")
        verbose_name_plural = gettext_lazy("nearest service point runs")
        ordering = ["-created_at"]
        indexes = [outbox_index("layers_nearestrun_outbox")]


class NearestAssignment(models.Model):
    """One point of a run and its nearest service point. The foreign keys
    carry no database constraint: a run writes up to millions of rows in one
    COPY, and a per-row check against two tables would double its time; the
    run's rows go with it (`nearest_run_delete`), and a service point is
    deactivated rather than deleted."""

    pk = models.CompositePrimaryKey("run_id", "point_id")
    run = models.ForeignKey(NearestRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="assignments")
    point_id = models.BigIntegerField(help_text="Id of the row in the run's source (dossier, report, feature).")
    service_point = models.ForeignKey(ServicePoint, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    distance_m = models.FloatField(help_text="Geodesic metres on WGS84.")
