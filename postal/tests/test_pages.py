"""The post on the dossier core's pages, without the core importing it:
the public lookup (API and page) shows each leg's steps and dates and no
personal data; the dossier page shows the parcels and the desk's buttons;
the submit page sends the postal choices; units are matched to a typed
address."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from dossiers.models import Dossier
from postal.models import Shipment

from .conftest import KINH_BAC, callback_body


def test_the_public_lookup_shows_the_parcels_steps_and_no_personal_data(shipped, post_callback, client):
    shipment = shipped(delivery_address="Số 99 phố Riêng Tư")
    post_callback(callback_body(shipment, "picked_up", timezone.now() + dt.timedelta(seconds=5)))
    code = shipment.dossier.code
    answer = client.get("/api/v1/dossiers/lookup/", {"code": code}).json()
    (leg,) = answer["shipments"]
    assert (leg["leg"], leg["status"]) == ("outbound", "picked_up")
    assert [step["status"] for step in leg["history"]] == ["pending", "created", "picked_up"]
    text = str(answer)
    for private in ("Nguyễn Văn A", "Số 99 phố Riêng Tư", shipment.tracking_number, "0912"):
        assert private not in text
    labels = {step["action"] for step in answer["timeline"]}
    assert {"shipment_created", "shipment_picked_up"} <= labels

    page = client.get(reverse("dossier-lookup-page"), {"code": code}).content.decode()
    assert 'id="postal-heading"' in page and 'data-status="picked_up"' in page
    assert "Bàn giao cho nhân viên bưu điện" in page  # the recorded step's label on the timeline
    assert "Nguyễn Văn A" not in page and shipment.tracking_number not in page


def test_the_dossier_page_shows_the_parcel_and_the_desks_buttons(shipped, client, people):
    shipment = shipped()
    client.force_login(people.desk_main)
    page = client.get(reverse("dossier-page", args=[shipment.dossier.code])).content.decode()
    assert 'id="postal"' in page and shipment.tracking_number in page
    assert 'data-action="hand_to_post"' in page and "handover.pdf" in page
    detail = client.get(f"/api/v1/dossiers/{shipment.dossier.code}/").json()  # the same, in the dossier's answer
    assert [s["order_code"] for s in detail["shipments"]] == [shipment.order_code]
    client.force_login(people.citizen_a)
    own = client.get(reverse("dossier-page", args=[shipment.dossier.code])).content.decode()
    assert shipment.tracking_number in own and 'data-action="hand_to_post"' not in own


def test_the_desks_button_hands_the_result_over(shipped, client, people):
    shipment = shipped()
    client.force_login(people.desk_main)
    page_url = reverse("dossier-page", args=[shipment.dossier.code])
    response = client.post(
        reverse("postal-shipment-action", args=[shipment.order_code]),
        {"action": "hand_to_post", "postal_worker": "Lê Văn Bưu", "next": page_url},
    )
    assert response.status_code == 302 and response["Location"] == page_url
    assert Shipment.objects.get(pk=shipment.pk).status == "picked_up"


def test_the_submit_page_sends_the_postal_choices(client, people, catalogue, points):
    client.force_login(people.citizen_a)
    url = reverse("dossier-submit", args=[catalogue.main.code])
    form = client.get(url).content.decode()
    assert 'name="postal_pickup"' in form and 'id="delivery-map"' in form
    response = client.post(
        url,
        {
            "applicant_name": "Nguyễn Văn A",
            "applicant_id_number": "027095001234",
            "applicant_address": "Số 1 Lý Thái Tổ",
            "receiving_point": points.centre.code,
            "result_delivery": "post",
            "delivery_address": "Số 2 Ngô Gia Tự",
            "delivery_lon": KINH_BAC[0],
            "delivery_lat": KINH_BAC[1],
            "delivery_commune": "09187",
            "postal_pickup": "post_office",
            "pickup_point": points.post.code,
            "pickup_address": "ignored: not collected at home",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dossier = Dossier.objects.get(procedure=catalogue.main)
    assert (dossier.postal_pickup, dossier.pickup_point_id, dossier.pickup_address) == (
        "post_office",
        points.post.pk,
        "",
    )
    assert dossier.delivery_commune.code == "09187"
    assert Shipment.objects.get(dossier=dossier).leg == "inbound"


def test_the_submit_page_says_when_the_procedure_is_not_accepted_by_post(client, people, catalogue):
    catalogue.main.postal_submission_allowed = False
    catalogue.main.save(update_fields=["postal_submission_allowed"])
    client.force_login(people.citizen_a)
    page = client.get(reverse("dossier-submit", args=[catalogue.main.code])).content.decode()
    assert 'name="postal_pickup"' not in page and 'id="postal-pickup-refused"' in page


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("So 12 Nguyen Gia Thieu, phuong Kinh Bac, tinh Bac Ninh", "09187"),
        ("số 12 nguyễn gia thiều, PHƯỜNG KINH BẮC", "09187"),
        ("12 nguyen gia thieu kinh bacc", "09187"),  # a slip of the finger
        ("thon 3, xa Lang Giang", "07375"),
    ],
)
def test_a_typed_address_is_matched_to_a_commune_of_the_current_map(client, db, address, code):
    response = client.get("/api/v1/admin-units/match/", {"address": address})
    assert response.status_code == 200
    first = response.json()["features"][0]
    assert first["properties"]["code"] == code


def test_an_address_without_a_commune_name_matches_nothing_and_bad_input_is_a_400(client, db):
    assert client.get("/api/v1/admin-units/match/", {"address": "xyz qwv"}).json()["features"] == []
    assert list(client.get("/api/v1/admin-units/match/").json()) == ["address"]
    assert list(client.get("/api/v1/admin-units/match/", {"address": "x" * 301}).json()) == ["address"]
    assert list(client.get("/api/v1/admin-units/match/", {"address": "a", "limit": 0}).json()) == ["limit"]


def test_the_lookups_plain_read_of_the_shipments_is_the_orms(shipped, post_callback, django_assert_num_queries):
    """`shipments_public_of_dossier` (one plain statement) gives each leg,
    its status and its steps as the ORM's `shipments_of_dossier` reads them,
    a leg with no step yet included, and the look-up's block from them
    reads nothing more."""
    from postal.selectors import shipments_of_dossier, shipments_public_of_dossier
    from postal.views import lookup_section

    shipment = shipped()
    post_callback(callback_body(shipment, "picked_up", timezone.now() + dt.timedelta(seconds=5)))
    bare = Shipment.objects.get(pk=shipment.pk)
    bare.pk, bare.order_code, bare.leg, bare.tracking_number = None, shipment.order_code + "B", "inbound", None
    bare.status, bare.picked_up_at = "pending", None
    bare.save()  # a second leg, without a tracking step

    def facts(shipments):
        return [
            (
                s.pk,
                s.order_code,
                s.leg,
                s.status,
                s.status_at,
                [(t.pk, t.status, t.occurred_at) for t in s.tracking.all()],
            )
            for s in shipments
        ]

    expected = facts(shipments_of_dossier(shipment.dossier_id))
    assert [len(leg[5]) for leg in expected] == [3, 0]  # pending, created, picked_up; none
    dossier = shipment.dossier
    with django_assert_num_queries(1):
        public = shipments_public_of_dossier(dossier.pk)
        assert facts(public) == expected
    with django_assert_num_queries(1):
        section = lookup_section(dossier)
    assert [leg["status"] for leg in section.data] == ["picked_up", bare.status]
    assert shipments_public_of_dossier(-1) == []
