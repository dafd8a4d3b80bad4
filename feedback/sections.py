"""The satisfaction rating on the dossier page and in the dossier API (the
`rating` key), registered with `dossiers.extensions` in FeedbackConfig.ready:
its applicant rates a finished dossier there, once; those who see the dossier
see the score once given."""

from django.urls import reverse

from dossiers.extensions import DossierSection
from dossiers.models import FINISHED_STATUSES
from gisportal.accounts.models import Role

from .models import Rating

STEP_LABELS = {"feedback_rating": "Đánh giá mức độ hài lòng / Satisfaction rating"}


def dossier_rating(dossier, *, actor) -> dict | None:
    finished = dossier.finished_at is not None and dossier.status in FINISHED_STATUSES
    if not finished:
        # No rating to show or give: `dossier_rate` rates finished dossiers
        # only, and no move leaves a finished status (no read for an open one).
        return None
    rating = Rating.objects.filter(dossier_id=dossier.pk).first()
    applicant = actor.role == Role.CITIZEN and actor.user_id is not None and dossier.applicant_id == actor.user_id
    if rating is None and not applicant:
        return None
    return {
        "score": rating.score if rating else None,
        "comment": rating.comment if rating else None,
        "may_rate": applicant and rating is None,
        "url": reverse("api-dossier-rating", args=[dossier.code]),
        "form_url": reverse("dossier-rating-page", args=[dossier.code]),
    }


RATING_SECTION = DossierSection(key="rating", detail=dossier_rating, template="feedback/_dossier_rating.html")
