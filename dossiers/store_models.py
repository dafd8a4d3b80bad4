"""A citizen's document store ("Giấy tờ của tôi") and saved drafts of a
submission ("Hồ sơ nháp"), issue #15. Imported by `dossiers.models`.

Neither is a dossier: a draft has no code, status, event or count, and the
indicators, maps and worklists read `Dossier` only."""

from django.conf import settings
from django.contrib.gis.db import models


class StoredDocument(models.Model):
    """One file a citizen keeps for later submissions: uploaded to the store,
    or sent with a dossier (then it shares that attachment's stored file,
    which stays with the dossier whatever happens here). Checked exactly as
    attachments are (`dossiers.attachments`)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stored_documents")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=80)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # The dossier component it is (e.g. `cccd`), as the submit page names it.
    kind = models.SlugField(max_length=40, blank=True)
    kind_name = models.CharField(max_length=300, blank=True)
    dossier = models.ForeignKey(
        "Dossier",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The dossier it was first sent with, if it came from one.",
    )
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            # The same bytes twice are one document.
            models.UniqueConstraint(fields=["owner", "sha256"], name="storeddocument_owner_sha256"),
        ]

    def __str__(self) -> str:
        return self.original_name


class DossierDraft(models.Model):
    """A submission saved part-way: the fields as `POST /api/v1/dossiers/`
    names them, e-form answers, and the stored documents chosen per
    component. Private to its owner; gone after `expires_at`."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dossier_drafts")
    procedure = models.ForeignKey("Procedure", on_delete=models.CASCADE, related_name="+")
    fields = models.JSONField(default=dict, blank=True)
    forms = models.JSONField(default=dict, blank=True)
    # {component code: [StoredDocument id, ...]}; untagged files in `attachments`.
    documents = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="dossierdraft_owner")]

    def __str__(self) -> str:
        return f"draft {self.pk} {self.procedure_id}"
