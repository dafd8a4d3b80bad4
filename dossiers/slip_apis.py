"""PDF slips of Circular 01/2018 (written by helper H2)."""

from django.http import Http404

from .apis import DossierApiView


class DossierSlipApi(DossierApiView):
    def get(self, request, code: str, kind: str):
        raise Http404
