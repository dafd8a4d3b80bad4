"""Every page of the portal a browser opens with GET (not the APIs), with
the kind of user who sees it and its arguments taken from committed test
data: for tests that walk all pages (accessibility, languages).

    with catalogue_data(django_db_blocker) as data:
        for page in pages(data):
            ... page.path, page.user (a key of data.sessions, or "anonymous"),
            page.status (the status the page answers with)

`test_pages_catalogue.py` checks that every named URL pattern is either
here or in NOT_PAGES with the reason, so a new page cannot be forgotten.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ANONYMOUS = "anonymous"
CITIZEN = "citizen"  # the applicant of the dossier and the reporter of the feedback
DESK = "desk"  # a desk officer of the provincial centre (CENTRE-MAIN): an official
REGISTRY = "registry"  # a processing officer of Sở Y tế, who edits the hospitals registry
ADMIN = "admin"  # an administrator (sandboxes, the SMS sandbox)
USER_KINDS = (ANONYMOUS, CITIZEN, DESK, REGISTRY, ADMIN)

# Named URL patterns that are not pages opened with GET, with the reason.
NOT_PAGES: dict[str, str] = {
    "set_language": "POST only (the language switch)",
    "token-revoke": "POST only",
    "my-document-delete": "POST only",
    "dossier-draft-delete": "POST only",
    "tokens-revoke-all": "POST only",
    "logout": "POST only",
    "schema": "the OpenAPI document (JSON)",
    "schema-yaml": "the OpenAPI document (YAML)",
    "ogc-schema": "a JSON Schema only (no HTML encoding)",
    "payment-vnpay-page": "POST only",
    "payment-counter-page": "POST only",
    "sandbox-vnpay-pay": "the gateway sandbox's payment form: reached only by a signed redirect from the portal",
    "sandbox-vnpay-api": "API of the gateway sandbox",
    "dossier-action": "POST only",
    "dossier-apology": "POST only",
    "dossier-assign": "POST only",
    "dossier-result": "POST only",
    "dossier-supplement": "POST only",
    "dossier-rating-page": "POST only",
    "procedure-form-file": "a downloaded file",
    "feedback-photo-public": "a JPEG",
    "postal-shipment-action": "POST only",
    "vnpost-sandbox-create-order": "API of the postal sandbox",
    "vnpost-sandbox-get-order": "API of the postal sandbox",
    "vnpost-sandbox-move-order": "API of the postal sandbox",
    "registry-upload-template": "a CSV file",
    "inbox-read": "POST only",
    "zalo-webhook": "API (Zalo's webhook)",
    "zalo-sandbox-settings": "POST only",
    "zalo-sandbox-tokens": "POST only",
    "zalo-sandbox-follower-create": "POST only",
    "zalo-sandbox-act": "POST only",
    "zalo-sandbox-follower": "a follower of the Zalo sandbox: there is none in the test data",
    "zalo-sandbox-message-cs": "API of the Zalo sandbox",
    "zalo-sandbox-conversation": "API of the Zalo sandbox",
    "zalo-sandbox-oauth": "API of the Zalo sandbox",
}
# Prefixes of whole areas left out: the APIs, and Django's own admin site.
NOT_PAGE_PREFIXES = ("api/v1/", "admin/", "tiles/", "open311/", "static/", "media/")


@dataclass(frozen=True)
class Page:
    name: str  # the URL pattern's name
    path: str  # with its arguments and query
    user: str  # one of USER_KINDS
    status: int = 200
    third_party: bool = False  # rendered by a vendored widget (Swagger UI)


@dataclass
class CatalogueData:
    procedure_code: str
    dossier_code: str
    feedback_id: str
    ogc_collection: str
    ogc_feature_id: str
    sessions: dict[str, str] = field(default_factory=dict)  # user kind -> session key


def pages(data: CatalogueData) -> list[Page]:
    procedure, dossier, feedback = data.procedure_code, data.dossier_code, data.feedback_id
    items = f"/ogc/collections/{data.ogc_collection}/items"
    return [
        # Anyone
        Page("home", "/", ANONYMOUS),
        Page("map", "/map/", ANONYMOUS),
        Page("procedure-list", "/procedures/", ANONYMOUS),
        Page("procedure-detail", f"/procedures/{procedure}/", ANONYMOUS),
        Page("dossier-lookup-page", "/dossiers/lookup/", ANONYMOUS),
        Page("feedback-map", "/feedback/", ANONYMOUS),
        Page("feedback-new", "/feedback/new/", ANONYMOUS),
        Page("feedback-page", f"/feedback/{feedback}/", ANONYMOUS),
        Page("payment-receipt-check", "/receipts/BL-000000/check/", ANONYMOUS, status=404),
        Page("payment-vnpay-return", "/payments/vnpay/return/", ANONYMOUS, status=400),
        Page("login", "/accounts/login/", ANONYMOUS),
        Page("register", "/accounts/register/", ANONYMOUS),
        Page("password_reset", "/accounts/password_reset/", ANONYMOUS),
        Page("password_reset_done", "/accounts/password_reset/done/", ANONYMOUS),
        Page("password_reset_confirm", "/accounts/reset/MQ/set-password/", ANONYMOUS),
        Page("password_reset_complete", "/accounts/reset/done/", ANONYMOUS),
        Page("api-docs", "/api/docs/", ANONYMOUS, third_party=True),
        Page("ogc-landing", "/ogc/?f=html", ANONYMOUS),
        Page("ogc-openapi", "/ogc/api?f=html", ANONYMOUS),
        Page("ogc-conformance", "/ogc/conformance?f=html", ANONYMOUS),
        Page("ogc-collections", "/ogc/collections?f=html", ANONYMOUS),
        Page("ogc-collection", f"/ogc/collections/{data.ogc_collection}?f=html", ANONYMOUS),
        Page("ogc-items", f"{items}?f=html&limit=20", ANONYMOUS),
        Page("ogc-item", f"{items}/{data.ogc_feature_id}?f=html", ANONYMOUS),
        # A citizen
        Page("dossier-submit", f"/procedures/{procedure}/submit/", CITIZEN),
        Page("my-dossiers", "/dossiers/mine/", CITIZEN),
        Page("my-documents", "/me/documents/", CITIZEN),
        Page("dossier-page", f"/dossiers/{dossier}/", CITIZEN),
        Page("feedback-manage", f"/feedback/{feedback}/manage/", CITIZEN),
        Page("inbox", "/inbox/", CITIZEN),
        Page("notification-settings", "/inbox/settings/", CITIZEN),
        Page("tokens", "/accounts/tokens/", CITIZEN),
        Page("password_change", "/accounts/password_change/", CITIZEN),
        Page("password_change_done", "/accounts/password_change/done/", CITIZEN),
        # An official at a desk
        Page("worklist", "/worklist/", DESK),
        Page("stats-dashboard", "/stats/", DESK),
        Page("planning-coverage", "/planning/coverage/", DESK),
        Page("planning-load", "/planning/load/", DESK),
        Page("planning-indicators", "/planning/indicators/", DESK),
        Page("planning-density", "/planning/density/", DESK),
        Page("planning-postal", "/planning/postal/", DESK),
        Page("payment-reconciliation-page", "/payments/reconciliation/", DESK),
        Page("payment-bank-lines-page", "/payments/bank-lines/", DESK),
        Page("feedback-worklist", "/feedback/worklist/", DESK),
        Page("postal-parcels", "/postal/parcels/", DESK),
        # A registry editor
        Page("registry-upload", "/registries/upload/", REGISTRY),
        # An administrator
        Page("sms-sandbox", "/accounts/sms-sandbox/", ADMIN),
        Page("vnpost-sandbox", "/sandbox/vnpost/", ADMIN),
        Page("zalo-sandbox-home", "/sandbox/zalo/", ADMIN),
    ]


@contextmanager
def catalogue_data(django_db_blocker) -> Iterator[CatalogueData]:
    """Committed rows the pages need (a dossier, a feedback report, users of
    every kind with logged-in sessions); all removed on exit. The server
    under test is another process: it sees only committed rows."""
    from feedback.models import Feedback
    from feedback.services import feedback_submit
    from feedback.tests.conftest import KINH_BAC, LOCAL, point_in
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import Feature
    from tests.browser import session_delete, session_key_for
    from tests.committed_dossiers import committed_dossiers

    suffix = uuid.uuid4().hex[:8]
    with committed_dossiers(django_db_blocker) as made:
        with django_db_blocker.unblock():
            dossier = made.submit()
            lon, lat = point_in(KINH_BAC)
            report = feedback_submit(
                category_code=LOCAL,
                text="Đèn đường hỏng trước cổng chợ.",
                lon=lon,
                lat=lat,
                photos=[],
                reporter_user=made.citizen,
                consent_location=True,
            )
            registry = user_ensure(
                username=f"pages-yte-{suffix}",
                password="x-Strong-pass-1",
                role="processing_officer",
                agency=Agency.objects.get(code="so-y-te"),
            )
            admin = user_ensure(username=f"pages-admin-{suffix}", password="x-Strong-pass-1", role="administrator")
            feature = Feature.objects.filter(layer__slug="schools").order_by("pk").first()
            users = {CITIZEN: made.citizen, DESK: made.desk, REGISTRY: registry, ADMIN: admin}
            data = CatalogueData(
                procedure_code=dossier.procedure.code,
                dossier_code=dossier.code,
                feedback_id=report.public_id,
                ogc_collection="schools",
                ogc_feature_id=str(feature.pk),
                sessions={kind: session_key_for(user) for kind, user in users.items()},
            )
        try:
            yield data
        finally:
            with django_db_blocker.unblock():
                for key in data.sessions.values():
                    session_delete(key)
                Feedback.objects.filter(pk=report.pk).delete()
                registry.delete()
                admin.delete()
