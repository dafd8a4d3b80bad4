"""GET /api/v1/dossiers/<code>/forms/<component>.pdf: a filled e-form (tờ
khai) as PDF, for whoever may see the dossier (dossier_get_for_user: 404
for the others and for a form the dossier does not have, 401 anonymous)."""

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from gisportal.api import message
from gisportal.downloads import download_response
from gisportal.renderers import JSONRenderer

from .apis import DossierApiView
from .eforms import eform_pdf
from .selectors import dossier_get_for_user

audit = logging.getLogger("gisportal.audit")


class DossierEFormPdfApi(DossierApiView):
    def perform_content_negotiation(self, request, force=False):
        # A PDF on success; every error is JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiTypes.OBJECT},
        summary="A filled e-form (tờ khai) of a dossier as PDF",
        operation_id="dossiers_eform_pdf",
    )
    def get(self, request, code: str, component: str):
        dossier = dossier_get_for_user(user=request.user, code=code)
        eform = dossier.eforms.filter(component_code=component).first()
        if eform is None:
            return Response(
                {"detail": message("Hồ sơ không có tờ khai này.", "The dossier has no such form.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        pdf = eform_pdf(dossier=dossier, eform=eform)
        audit.info("eform printed code=%s form=%s user=%s", dossier.code, component, request.user.pk)
        return download_response(
            pdf, filename=f"{dossier.code}-{component}.pdf", content_type="application/pdf", inline=True, private=True
        )
