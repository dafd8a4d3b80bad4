"""The payment panel of the dossier page and the `payment` key of the
dossier API (registered with dossiers.extensions in PaymentsConfig.ready)."""

from dossiers.extensions import DossierSection

from .serializers import dossier_payment

PAYMENT_SECTION = DossierSection(key="payment", detail=dossier_payment, template="payments/_dossier_panel.html")
