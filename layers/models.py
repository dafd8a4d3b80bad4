"""Administrative units of each era and the service points that sit in them."""

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Q
from django.db.models.functions import Cast


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
    is_demo = models.BooleanField(default=False, help_text="Placed by the demo rule, not a surveyed location.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
