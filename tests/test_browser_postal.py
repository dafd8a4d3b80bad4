"""A result sent by post, end to end, against the project's own server, a
Celery worker with beat, and the sandbox carrier, all real processes:

1. a citizen on a 390 px phone submits, choosing "result by post" and
   locating the address on the map (the typed address matched to its
   commune, then a pin);
2. officials (API) take the dossier to "result ready": a shipment is due,
   but the carrier is down (its address answers nothing), so the shipment
   waits and its order is retried through the outbox; the carrier comes
   back and the order is made;
3. the desk hands the result to the postal worker (API); the sandbox moves
   the parcel on Celery beat's schedule and calls the portal back, signed
   (some calls twice); the dossier is finished on the delivery date;
4. the citizen sees the tracking history on the dossier page, and anybody
   on the public lookup page, without names or addresses.

The server and worker share a private broker; the worker reaches the
carrier through a proxy the test switches on. Everything committed is
removed afterwards."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Browser, expect
from pyproj import Geod

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for
from tests.live import celery_worker, process_env, purge_broker, runserver
from tests.processes import free_port

pytestmark = pytest.mark.browser

PLACE = (106.0763, 21.1861)  # Phường Kinh Bắc; our own desk stands here
UNIT_IDENTIFIER = "000.99.97.H97"
PASSWORD = "x-Strong-pass-1"
CITIZEN_ID = "027095009876"
SCREENSHOT = "/tmp/postal-{}.png"
DEADLINE_S = 40
GEOD = Geod(ellps="WGS84")

expect.set_options(timeout=15_000)


class SwitchableProxy:
    """The carrier as the worker reaches it: forwards POSTs to `target`
    while switched on; while off, nothing listens on its port."""

    def __init__(self, target: str):
        self.target, self.port, self.server, self.requests = target, free_port(), None, 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self) -> None:
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests += 1
                answer = requests.post(
                    proxy.target + self.path,
                    data=body,
                    headers={k: v for k, v in self.headers.items() if k in ("Content-Type", "Authorization")},
                    timeout=10,
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Forward)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def off(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from dossiers.models import DailyStat, Procedure, Sector
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import AdministrativeUnit, ServicePoint, ServicePointKind

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        today = timezone.localdate()
        stats_before = list(DailyStat.objects.filter(day=today))
        sector = Sector.objects.create(code=f"post-browser-{suffix}", name="Lĩnh vực thử nghiệm bưu chính")
        so_tp = Agency.objects.get(code="so-tp")
        procedure = Procedure.objects.create(
            code=f"9.97{int(suffix, 16) % 10000:04d}",
            name=f"Cấp bản sao trích lục (bưu chính, thử {suffix})",
            sector=sector,
            agency=so_tp,
            level="province",
            online_level="full",
            processing_days=3,
        )
        desk = ServicePoint.objects.create(
            code=f"POST-E2E-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm bưu chính {suffix}",
            address="Số 1 đường thử nghiệm",
            geom=Point(*PLACE, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
            admin_unit=AdministrativeUnit.objects.get(era="2025", code="09187"),
        )
        users = {
            "citizen": user_ensure(username=f"post-citizen-{suffix}", password=PASSWORD, role="citizen"),
            "desk": user_ensure(
                username=f"post-desk-{suffix}", password=PASSWORD, role="desk_officer", agency=so_tp, service_point=desk
            ),
            "processor": user_ensure(
                username=f"post-proc-{suffix}", password=PASSWORD, role="processing_officer", agency=so_tp
            ),
            "leader": user_ensure(username=f"post-lead-{suffix}", password=PASSWORD, role="leader", agency=so_tp),
        }
        Profile.objects.filter(user=users["citizen"]).update(
            full_name="Phạm Thị Bưu", id_number=CITIZEN_ID, phone="0912 000 222"
        )
        session = session_key_for(users["citizen"])
    try:
        yield {"procedure": procedure, "desk": desk, "users": users, "session": session}
    finally:
        with django_db_blocker.unblock():
            _clean_up(procedure, desk, users, session, sector, today, stats_before)


def _clean_up(procedure, desk, users, session, sector, today, stats_before) -> None:
    from dossiers.density_counts import density_rebuild
    from dossiers.models import CodeCounter, DailyStat, Dossier
    from postal.models import CarrierCallback, Shipment
    from postal.sandbox.models import Order

    session_delete(session)
    dossiers = Dossier.objects.filter(procedure=procedure)
    shipments = Shipment.objects.filter(dossier__in=dossiers)
    Order.objects.filter(order_code__in=list(shipments.values_list("order_code", flat=True))).delete()
    CarrierCallback.objects.filter(shipment_id__in=list(shipments.values_list("pk", flat=True))).delete()
    shipments.delete()  # tracking and carrier requests go with them
    dossiers.delete()
    CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
    DailyStat.objects.filter(day=today).delete()
    DailyStat.objects.bulk_create(stats_before)
    density_rebuild()
    procedure.delete()
    sector.delete()
    for user in users.values():
        user.delete()
    desk.delete()


@pytest.fixture(scope="module")
def stack(setup, django_db_blocker, tmp_path_factory, private_broker_url) -> Iterator[dict]:
    """Server and worker (with beat) on a private broker; the carrier, for
    the worker, behind a proxy that starts switched off."""
    fast = {
        "REDIS_URL": private_broker_url,
        "VNPOST_SANDBOX_STEP_S": "2",
        "VNPOST_SANDBOX_TICK_S": "0.5",
        "VNPOST_SANDBOX_FAILURE_RATE": "0",
        "VNPOST_SANDBOX_DUPLICATE_RATE": "0.5",
        "VNPOST_SANDBOX_LATE_RATE": "0",
        "OUTBOX_RETRY_BASE_S": "1",
        "OUTBOX_RETRY_MAX_S": "2",
    }
    logs = tmp_path_factory.mktemp("postal_stack")
    with runserver(process_env(django_db_blocker, **fast), logs) as server:
        proxy = SwitchableProxy(server)
        worker_env = process_env(
            django_db_blocker,
            **fast,
            VNPOST_BASE_URL=f"{proxy.url}/sandbox/vnpost/api/v1",
            VNPOST_CALLBACK_URL=f"{server}/api/v1/postal/callbacks/vnpost/",
        )
        purge_broker(worker_env)
        with celery_worker(worker_env, logs, beat=True) as worker:
            try:
                yield {"server": server, "proxy": proxy, "worker": worker}
            finally:
                proxy.off()


@pytest.fixture(scope="module")
def browser(stack) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_submit_page_offers_the_post(setup, client):
    # Runs first, before the browser starts; a database test, so the test database exists.
    client.force_login(setup["users"]["citizen"])
    page = client.get(f"/procedures/{setup['procedure'].code}/submit/").content.decode()
    assert 'id="delivery-map"' in page and 'name="postal_pickup"' in page


def _token(server: str, user) -> dict:
    answer = requests.post(f"{server}/api/v1/auth/token/", json={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Token {answer.json()['token']}"}


def _until(what, check, *, timeout_s: float = DEADLINE_S, log=None):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s" + (f"\n{log.read_text()[-4000:]}" if log else ""))
        time.sleep(0.25)


def test_a_result_by_post_travels_from_the_submit_page_to_the_lookup(setup, stack, browser, django_db_blocker):
    from dossiers.models import Dossier
    from postal.models import Shipment

    server, proxy, worker_log = stack["server"], stack["proxy"], stack["worker"].log_path
    phone = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

    # 1. The citizen submits on a phone, the result by post to a located address.
    page, errors = new_page(browser, server, session_key=setup["session"], **phone)
    page.goto(f"{server}/procedures/{setup['procedure'].code}/submit/")
    page.locator("#id_applicant_address").fill("Số 12 phố Nguyễn Gia Thiều")
    page.locator("#id_receiving_point").select_option(setup["desk"].code)
    page.locator('input[name="result_delivery"][value="post"]').check()
    expect(page.locator("#delivery-map")).to_have_attribute("aria-busy", "false")
    page.locator("#id_delivery_address").fill("so 12 ngo gia tu, phuong kinh bac")
    page.locator("#delivery-match").click()
    expect(page.locator("#id_delivery_commune")).to_have_value("09187")
    expect(page.locator("#delivery-post-offices li").first).to_be_visible()
    # The shared base map's names are in (nothing moves on the page after this).
    expect(page.locator("#delivery-map")).to_have_attribute("data-context", "ready")
    page.locator("#delivery-map").scroll_into_view_if_needed()
    page.evaluate("([lat, lon]) => window.deliveryMap.setView([lat, lon], 16, {animate: false})", [PLACE[1], PLACE[0]])
    page.wait_for_function(
        "() => { const map = window.deliveryMap;"
        " return !map._animatingZoom && !(map._panAnim && map._panAnim._inProgress); }"
    )
    point = page.evaluate(
        """async ([lat, lon]) => {
            const map = window.deliveryMap;
            // The page may still move the map (the matched commune's outline,
            // the post offices) or the layout (the phone header collapses on
            // scroll): wait until both stay put, then aim at the place.
            const state = () => {
                const r = map.getContainer().getBoundingClientRect();
                const c = map.getCenter();
                return [r.top, r.left, c.lat, c.lng, map.getZoom()].join();
            };
            let last = state();
            for (let i = 0; i < 50; i += 1) {
                await new Promise((resolve) => window.setTimeout(resolve, 150));
                const now = state();
                if (now === last && !map._animatingZoom) break;
                last = now;
            }
            map.setView([lat, lon], 16, {animate: false});
            const box = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: Math.round(box.left + p.x), y: Math.round(box.top + p.y)};
        }""",
        [PLACE[1], PLACE[0]],
    )
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#id_delivery_lon")).not_to_have_value("")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOT.format("submit"), full_page=True)
    page.locator("#submit-button").click()
    page.wait_for_url(f"{server}/dossiers/**")
    code = page.locator("#dossier-code").inner_text().strip()
    assert code.startswith(UNIT_IDENTIFIER)
    dossier = in_database(django_db_blocker, lambda: Dossier.objects.get(code=code))
    assert dossier.result_delivery == "post" and dossier.delivery_commune_id is not None
    assert GEOD.inv(dossier.delivery_location.x, dossier.delivery_location.y, *PLACE)[2] < 10  # metres: a pixel or two

    # 2. Officials take it to "result ready" while the carrier is down.
    users = setup["users"]
    tokens = {role: _token(server, users[role]) for role in ("desk", "processor", "leader")}
    for role, action in (
        ("desk", "receive"),  # an online dossier waits for the desk (issue #15)
        ("desk", "assign"),
        ("processor", "start"),
        ("leader", "approve"),
        ("processor", "mark_result_ready"),
    ):
        moved = requests.post(
            f"{server}/api/v1/dossiers/{code}/transitions/", json={"action": action}, headers=tokens[role]
        )
        assert moved.status_code == 200, moved.text
    listed = requests.get(f"{server}/api/v1/postal/shipments/", params={"dossier": code}, headers=tokens["desk"]).json()
    (shipment,) = listed["results"]
    detail_url = f"{server}/api/v1/postal/shipments/{shipment['order_code']}/"

    def shipment_now() -> dict:
        return requests.get(detail_url, headers=tokens["desk"]).json()

    waiting = _until(
        "a failed try while the carrier is down",
        lambda: (s := shipment_now())["creation"] and s["creation"]["tries"] >= 1 and s,
        log=worker_log,
    )
    assert waiting["status"] == "pending" and waiting["tracking_number"] is None
    assert "ConnectionError" in waiting["creation"]["last_error"]
    proxy.on()  # the carrier is back: the outbox tries again
    created = _until(
        "the order made once the carrier is back",
        lambda: (s := shipment_now())["tracking_number"] and s,
        log=worker_log,
    )
    assert created["status"] in ("created", "picked_up")

    # 3. The desk hands it to the postal worker; the sandbox carries it.
    handed = requests.post(
        f"{detail_url}actions/", json={"action": "hand_to_post", "postal_worker": "Lê Văn Bưu"}, headers=tokens["desk"]
    )
    assert handed.status_code == 200, handed.text
    _until("delivery by the sandbox", lambda: shipment_now()["status"] == "delivered", log=worker_log)
    returned = in_database(django_db_blocker, lambda: Dossier.objects.get(code=code))
    stored = in_database(django_db_blocker, lambda: Shipment.objects.get(order_code=shipment["order_code"]))
    assert (returned.status, returned.finished_at, returned.returned_at) == (
        "result_returned",
        stored.delivered_at,
        stored.delivered_at,
    )
    assert returned.timeliness == "early"  # delivered within the three working days
    assert proxy.requests == 1  # one CreateOrder: nothing lost, nothing twice

    # 4. The citizen's dossier page and the public lookup show the journey.
    page.goto(f"{server}/dossiers/{code}/")
    history = page.locator("#postal .postal-history")
    for status in ("pending", "created", "picked_up", "in_transit", "delivered"):
        expect(history.locator(f'li[data-status="{status}"]').first).to_be_visible()
    expect(page.locator("#dossier-status")).to_have_text("Đã trả kết quả")
    page.screenshot(path=SCREENSHOT.format("dossier"), full_page=True)
    visitor, visitor_errors = new_page(browser, server, **phone)
    visitor.goto(f"{server}/dossiers/lookup/?code={code}")
    result = visitor.locator(".lookup-result")
    expect(result.locator('.postal-history li[data-status="delivered"]')).to_be_visible()
    expect(result).to_contain_text("Bưu điện đã phát kết quả cho người nhận")
    expect(result).not_to_contain_text("Phạm Thị Bưu")
    expect(result).not_to_contain_text(created["tracking_number"])
    visitor.screenshot(path=SCREENSHOT.format("lookup"), full_page=True)
    assert errors == [] and visitor_errors == []
    assert json.loads(json.dumps(shipment_now()))["history"][-1]["status"] == "delivered"
