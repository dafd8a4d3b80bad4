"""Client of the Vietnam Post partner API, as far as the portal uses it:
`CreateOrder` (sender and receiver with names, phones, addresses and unit
codes, weight in grams; answers the tracking number `ItemCode`) and
`GetOrder` (the parcel's history). The same protocol is spoken by the
sandbox carrier (`postal.sandbox`), which is the default `VNPOST_BASE_URL`.

    POST {VNPOST_BASE_URL}/CreateOrder     Authorization: Token <VNPOST_API_KEY>
    POST {VNPOST_BASE_URL}/GetOrder        {"CustomerCode": ..., "ItemCode": ...}

Every call is made from a Celery worker through the outbox
(`postal.services.carrier_request_run`), never from a web request. A
carrier that does not answer within `VNPOST_TIMEOUT_S`, cannot be reached
or answers 5xx raises `CarrierUnavailable` (try again later); a 4xx answer
raises `CarrierRefused` with the carrier's message. `OrderCode` is ours and
unique per shipment: the carrier answers a repeated CreateOrder with the
order it already made, so a retry after a timeout never makes two parcels."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

# The statuses the carrier reports (callbacks and GetOrder history).
CARRIER_STATUSES = ("picked_up", "in_transit", "delivery_failed", "delivered", "returned")
# The postal service for administrative dossiers and results (BCCI).
SERVICE_CODE = "BCCI"


class CarrierError(Exception):
    pass


class CarrierUnavailable(CarrierError):
    """Down, too slow, or a server error: the same request may succeed later."""


class CarrierRefused(CarrierError):
    """The carrier refused the request (a 4xx answer): sending it again as it is will not help."""


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    address: str
    province_code: str
    district_code: str  # empty on the 2025 map, which has no districts
    ward_code: str

    def body(self, prefix: str) -> dict:
        return {
            f"{prefix}Name": self.name,
            f"{prefix}Phone": self.phone,
            f"{prefix}Address": self.address,
            f"{prefix}ProvinceCode": self.province_code,
            f"{prefix}DistrictCode": self.district_code,
            f"{prefix}WardCode": self.ward_code,
        }


# How the carrier gets the parcel: its worker collects it from the sender
# (at home, or at the desk for a result), or the sender drops it at a post office.
PICKUP_COLLECT = "collect"
PICKUP_DROP = "drop"


@dataclass(frozen=True)
class Order:
    order_code: str
    sender: Party
    receiver: Party
    weight_g: int
    pickup_type: str
    pickup_post_office_code: str
    content: str
    callback_url: str

    def body(self) -> dict:
        return {
            "OrderCode": self.order_code,
            "ServiceCode": SERVICE_CODE,
            **self.sender.body("Sender"),
            **self.receiver.body("Receiver"),
            "Weight": self.weight_g,
            "PickupType": self.pickup_type,
            "PickupPostOfficeCode": self.pickup_post_office_code,
            "Content": self.content,
            "CallbackUrl": self.callback_url,
        }


@dataclass(frozen=True)
class CreatedOrder:
    item_code: str
    order_code: str


@dataclass(frozen=True)
class CarrierEvent:
    event_id: str
    status: str
    occurred_at: dt.datetime
    post_office_code: str
    note: str


class BadCarrierEvent(ValueError):
    """A status report with a missing or malformed field (named in `field`)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


def carrier_event(data: object) -> CarrierEvent:
    """A status report (a callback body, or an item of GetOrder's History)
    as the protocol defines it; BadCarrierEvent names the first bad field."""
    if not isinstance(data, dict):
        raise BadCarrierEvent("body", "not a JSON object")
    event_id = data.get("EventId")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        raise BadCarrierEvent("EventId", "a string of 1-64 characters is required")
    status = data.get("Status")
    if status not in CARRIER_STATUSES:
        raise BadCarrierEvent("Status", "one of " + ", ".join(CARRIER_STATUSES))
    raw_time = data.get("OccurredAt")
    occurred_at = parse_datetime(raw_time) if isinstance(raw_time, str) else None
    if occurred_at is None or occurred_at.tzinfo is None:
        raise BadCarrierEvent("OccurredAt", "an ISO 8601 time with its offset is required")
    office = data.get("PostOfficeCode") or ""
    note = data.get("Note") or ""
    if not isinstance(office, str) or len(office) > 40:
        raise BadCarrierEvent("PostOfficeCode", "a string of at most 40 characters")
    if not isinstance(note, str) or len(note) > 500:
        raise BadCarrierEvent("Note", "a string of at most 500 characters")
    return CarrierEvent(event_id=event_id, status=status, occurred_at=occurred_at, post_office_code=office, note=note)


class VnpostClient:
    def __init__(self, *, base_url: str, customer_code: str, api_key: str, timeout_s: float):
        self.base_url = base_url.rstrip("/")
        self.customer_code = customer_code
        self.api_key = api_key
        self.timeout_s = timeout_s

    def create_order(self, order: Order) -> CreatedOrder:
        answer = self._post("CreateOrder", order.body())
        item_code = answer.get("ItemCode")
        if not isinstance(item_code, str) or not item_code:
            raise CarrierUnavailable("CreateOrder answered without an ItemCode")
        return CreatedOrder(item_code=item_code, order_code=str(answer.get("OrderCode") or order.order_code))

    def get_order(self, item_code: str) -> tuple[str, list[CarrierEvent]]:
        """The parcel's current status and its history."""
        answer = self._post("GetOrder", {"ItemCode": item_code})
        try:
            history = [carrier_event(item) for item in answer.get("History") or []]
        except BadCarrierEvent as bad:
            raise CarrierUnavailable(f"GetOrder answered a malformed history ({bad})") from bad
        return str(answer.get("Status") or ""), history

    def _post(self, operation: str, body: dict) -> dict:
        status, answer, reason = http_post(
            f"{self.base_url}/{operation}",
            body={"CustomerCode": self.customer_code, **body},
            headers={"Authorization": f"Token {self.api_key}", "Accept": "application/json"},
            timeout_s=self.timeout_s,
            operation=operation,
        )
        detail = str(answer.get("Message") or reason or "")[:400]
        if 400 <= status < 500 and status not in (408, 429):
            raise CarrierRefused(f"{operation}: HTTP {status}: {detail}")
        if status != 200 or answer.get("Success") is not True:
            raise CarrierUnavailable(f"{operation}: HTTP {status}: {detail}")
        return answer


def http_post(url: str, *, body: dict, headers: dict, timeout_s: float, operation: str) -> tuple[int, dict, str]:
    """One JSON POST to the carrier: (status, the answer if it is a JSON
    object else {}, the HTTP reason). CarrierUnavailable when there is no
    answer (refused, reset, timed out). The tests run the sandbox in their
    own process by replacing this one function."""
    try:
        response = requests.post(url, json=body, headers=headers, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as error:  # refused, reset, timed out, bad URL
        raise CarrierUnavailable(f"{operation}: {type(error).__name__}: {error}"[:480]) from error
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    return response.status_code, answer if isinstance(answer, dict) else {}, response.reason or ""


def vnpost_client() -> VnpostClient:
    return VnpostClient(
        base_url=settings.VNPOST_BASE_URL,
        customer_code=settings.VNPOST_CUSTOMER_CODE,
        api_key=settings.VNPOST_API_KEY,
        timeout_s=settings.VNPOST_TIMEOUT_S,
    )
