"""GET /api/v1/dossiers/<code>/slips/<kind>.pdf: the Circular 01/2018 slips
as PDF, for whoever may see the dossier (dossier_get_for_user: 404 for the
others, 401 for anonymous callers)."""

import logging
import time

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from gisportal.api import message
from gisportal.downloads import download_response
from gisportal.renderers import JSONRenderer

from .apis import DossierApiView
from .selectors import dossier_get_for_user
from .serializers import SLIP_KINDS
from .slips import SlipNotApplicable, slip_pdf

audit = logging.getLogger("gisportal.audit")


class DossierSlipApi(DossierApiView):
    """`kind`: receipt, supplement, refusal, apology or control. A slip that
    does not apply to the dossier yet is a 409."""

    def perform_content_negotiation(self, request, force=False):
        # A PDF on success (a plain HttpResponse); every error is JSON, even
        # for a browser or a client that asked for application/pdf.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(SLIP_KINDS))],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="A Circular 01/2018 slip as PDF",
        operation_id="dossiers_slip",
    )
    def get(self, request, code: str, kind: str):
        if kind not in SLIP_KINDS:
            listed = ", ".join(SLIP_KINDS)
            return Response(
                {
                    "kind": [
                        message(f"Không có loại phiếu này; dùng: {listed}.", f"No such slip; use one of: {listed}.")
                    ]
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        dossier = dossier_get_for_user(user=request.user, code=code)
        started = time.perf_counter()
        try:
            pdf = slip_pdf(dossier=dossier, kind=kind)
        except SlipNotApplicable as not_yet:
            return Response({"detail": str(not_yet), "kind": kind}, status=status.HTTP_409_CONFLICT)
        audit.info(
            "slip printed code=%s kind=%s user=%s ms=%d",
            dossier.code,
            kind,
            request.user.pk,
            (time.perf_counter() - started) * 1000,
        )
        # Inline: a slip is opened to be printed. Personal data: kept out of
        # shared caches and the browser's disk cache.
        return download_response(
            pdf, filename=f"{dossier.code}-{kind}.pdf", content_type="application/pdf", inline=True, private=True
        )
