"""Pages of the postal service: its blocks on the dossier page and the
public lookup (registered with dossiers.extensions), the desk's list of
parcels to hand over, and the form posts of the desk's buttons."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dossiers.extensions import DossierSection, LookupSection
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.messages import in_language

from .models import Leg, Shipment, ShipmentStatus
from .selectors import (
    shipment_actions,
    shipment_creation_state,
    shipment_list,
    shipments_of_dossier,
    shipments_public_of_dossier,
)
from .serializers import ACTION_LABELS, shipment_detail, shipment_public
from .services import PostalActionRefused, PostalInputError, shipment_act

PAGE_SIZE = 50


def _status(status: str) -> str:
    return in_language(ShipmentStatus(status).label)


def _row(shipment: Shipment, *, actor: Actor | None, public: bool = False) -> dict:
    """One shipment as the pages show it (`public`: the lookup's fields only)."""
    row = {
        "order_code": shipment.order_code,
        "leg": shipment.leg,
        "leg_label": in_language(Leg(shipment.leg).label),
        "status": shipment.status,
        "status_label": _status(shipment.status),
        "status_at": shipment.status_at,
        "history": [
            # The public look-up's steps are read without their post office (shipments_public_of_dossier).
            {"status": t.status, "label": _status(t.status), "at": t.occurred_at}
            | ({} if public else {"post_office": t.post_office})
            for t in shipment.tracking.all()
        ],
    }
    if public:
        return row
    state = shipment_creation_state(shipment)
    row.update(
        {
            "tracking_number": shipment.tracking_number,
            "dossier_code": shipment.dossier.code,
            "procedure": shipment.dossier.procedure.name,
            "receiver_name": shipment.receiver_name,
            "receiver_address": shipment.receiver_address,
            "sender_name": shipment.sender_name,
            "last_point": shipment.last_point,
            "creation": state,
            "carrier_message": shipment.carrier_message,
            "slip_url": reverse("api-postal-shipment-slip", args=[shipment.order_code]),
            "actions": [
                {"action": action, "label": in_language(ACTION_LABELS[action])}
                for action in (shipment_actions(actor, shipment) if actor else [])
            ],
            "action_url": reverse("postal-shipment-action", args=[shipment.order_code]),
        }
    )
    return row


def lookup_section(dossier) -> LookupSection | None:
    """The public lookup's block: each leg's status steps and dates."""
    shipments = shipments_public_of_dossier(dossier.pk)
    if not shipments:
        return None
    return LookupSection(
        key="shipments",
        template="postal/_lookup_section.html",
        context={"shipments": [_row(s, actor=None, public=True) for s in shipments]},
        data=[shipment_public(s) for s in shipments],
    )


def shipments_detail(dossier, *, actor: Actor) -> list[dict] | None:
    """`shipments` in GET /api/v1/dossiers/{code}/ for those who may see the
    dossier, and the dossier page's block (postal/_dossier_section.html):
    the parcels, their history, the hand-over slip and the desk's actions."""
    shipments = shipments_of_dossier(dossier.pk)
    return [shipment_detail(s, actor=actor) for s in shipments] or None


SHIPMENTS_SECTION = DossierSection(key="shipments", detail=shipments_detail, template="postal/_dossier_section.html")


@login_required
def parcels_page(request):
    """The parcels of the caller's office (a citizen: their own), those
    waiting for a hand-over at the desk first."""
    actor = actor_for(request.user)
    to_act = request.GET.get("to_act") == "true"
    shipments = shipment_list(user=request.user, to_act=to_act)[:PAGE_SIZE]
    context = {
        "rows": [_row(s, actor=actor) for s in shipments],
        "to_act": to_act,
        "next": request.get_full_path(),
        "is_desk": actor.role == "desk_officer",
    }
    return render(request, "postal/parcels.html", context)


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


@login_required
@require_POST
def shipment_action(request, order_code: str):
    """A desk button: one `shipment_act`, then back to where it was pressed."""
    try:
        shipment = shipment_act(
            order_code=order_code,
            action=request.POST.get("action", ""),
            acting_user=request.user,
            postal_worker=request.POST.get("postal_worker", ""),
        )
    except Shipment.DoesNotExist as missing:
        raise Http404 from missing
    except (PostalActionRefused, PostalInputError) as refused:
        text = (
            str(refused)
            if isinstance(refused, PostalActionRefused)
            else "; ".join(m for texts in refused.errors.values() for m in texts)
        )
        messages.error(request, text)
        return redirect(_safe_next(request, reverse("postal-parcels")))
    messages.success(
        request,
        _("Parcel %(code)s: %(status)s.")
        % {"code": shipment.tracking_number or shipment.order_code, "status": _status(shipment.status)},
    )
    return redirect(_safe_next(request, reverse("postal-parcels")))
