"""Demo parcels, so the postal map and the parcel lists show something: an
outbound leg for every demo dossier whose result goes by post and is ready
(the demo history sends about one result in eight by post), derived from
the dossier's own dates in two INSERT ... SELECT statements, no Python work
per row (about a second for the 200,000-dossier history).

- returned dossiers: picked up three hours after the result was ready (or an
  hour before delivery), in transit half-way, delivered when the dossier
  was returned; one in ten after a failed attempt the day before;
- dossiers still waiting: created, picked up or in transit by how long ago
  the result was ready; one in seven of those older than a day after a
  failed attempt; at the post office of the applicant's commune once
  picked up.

Tracking numbers are S10-shaped with the prefix ED (demo), never the
sandbox's EB. With the history's events, the hand-overs are steps on the
dossiers' timelines too (created, picked up, failed attempts, delivered), as
`dossier_record_event` writes them. Registered as the post's part of the
demo history (`dossiers.extensions.DemoHistoryPart`): it runs on the
history's cursor, in its transaction."""

from django.conf import settings

from layers.models import ServicePointKind

from .models import Shipment

_S10 = """'ED' || s.serial || ((11 - (
    substr(s.serial,1,1)::int*8 + substr(s.serial,2,1)::int*6 + substr(s.serial,3,1)::int*4
  + substr(s.serial,4,1)::int*2 + substr(s.serial,5,1)::int*3 + substr(s.serial,6,1)::int*5
  + substr(s.serial,7,1)::int*9 + substr(s.serial,8,1)::int*7) %% 11) %% 11 %% 10
  + CASE WHEN (substr(s.serial,1,1)::int*8 + substr(s.serial,2,1)::int*6 + substr(s.serial,3,1)::int*4
  + substr(s.serial,4,1)::int*2 + substr(s.serial,5,1)::int*3 + substr(s.serial,6,1)::int*5
  + substr(s.serial,7,1)::int*9 + substr(s.serial,8,1)::int*7) %% 11 = 0 THEN 5 ELSE 0 END)::text || 'VN'"""

_SHIPMENTS_SQL = f"""
WITH ready AS (
    SELECT d.id, d.code, d.status, d.returned_at, d.applicant_name, d.applicant_phone, d.delivery_address,
           d.applicant_address, d.location, d.applicant_commune_id, d.receiving_point_id, e.at AS ready_at,
           lpad((d.id %% 100000000)::text, 8, '0') AS serial, (hashtext(d.code) & 1023) / 1024.0 AS draw
    FROM dossiers_dossier d
    JOIN dossiers_dossierevent e ON e.dossier_id = d.id AND e.action = 'mark_result_ready'
    WHERE d.is_demo AND d.result_delivery = 'post' AND d.status IN ('result_ready', 'result_returned')
), timed AS (
    SELECT r.*,
           CASE WHEN r.status = 'result_returned'
                THEN least(r.ready_at + interval '3 hours', r.returned_at - interval '1 hour') END AS handed_at,
           now() - r.ready_at AS age
    FROM ready r
), s AS (
    SELECT t.*,
           CASE WHEN t.status = 'result_returned' THEN 'delivered'
                WHEN t.age < interval '1 hour' THEN 'created'
                WHEN t.age < interval '1 day' THEN 'picked_up'
                WHEN t.draw < 0.15 THEN 'delivery_failed'
                ELSE 'in_transit' END AS state
    FROM timed t
)
INSERT INTO postal_shipment (
    dossier_id, leg, order_code, tracking_number, status, status_at, created_at, pickup_mode, pickup_point_id,
    sender_name, sender_phone, sender_address, sender_units, receiver_name, receiver_phone, receiver_address,
    receiver_units, weight_g, citizen_location, citizen_commune_id, last_point_id, picked_up_at, delivered_at,
    desk_received_at, failed_attempts, carrier_message)
SELECT s.id, 'outbound', s.code || '-T1', {_S10}, s.state,
       CASE s.state WHEN 'delivered' THEN s.returned_at WHEN 'created' THEN s.ready_at + interval '2 minutes'
                    WHEN 'picked_up' THEN s.ready_at + interval '30 minutes'
                    ELSE s.ready_at + interval '20 hours' END,
       s.ready_at + interval '2 minutes', 'desk', NULL,
       p.name, p.phone, coalesce(nullif(p.address, ''), p.name),
       jsonb_build_object('province', %(province)s, 'district', '', 'commune', coalesce(pu.code, '')),
       s.applicant_name, s.applicant_phone, coalesce(nullif(s.delivery_address, ''), s.applicant_address),
       jsonb_build_object('province', %(province)s, 'district', '', 'commune', coalesce(cu.code, '')),
       %(weight)s, s.location, s.applicant_commune_id,
       CASE WHEN s.state IN ('picked_up', 'in_transit', 'delivery_failed') THEN office.id END,
       CASE WHEN s.state = 'delivered' THEN s.handed_at
            WHEN s.state <> 'created' THEN s.ready_at + interval '30 minutes' END,
       CASE WHEN s.state = 'delivered' THEN s.returned_at END,
       NULL,
       CASE WHEN s.state = 'delivery_failed' OR (s.state = 'delivered' AND s.draw < 0.1) THEN 1 ELSE 0 END,
       ''
FROM s
JOIN layers_servicepoint p ON p.id = s.receiving_point_id
LEFT JOIN layers_administrativeunit pu ON pu.id = p.admin_unit_id
LEFT JOIN layers_administrativeunit cu ON cu.id = s.applicant_commune_id
LEFT JOIN LATERAL (
    SELECT o.id FROM layers_servicepoint o
    WHERE o.kind = %(post_office)s AND o.admin_unit_id = s.applicant_commune_id ORDER BY o.code LIMIT 1
) office ON true
"""

# The steps each parcel went through, with their times, as tracking rows.
_TRACKING_SQL = """
INSERT INTO postal_trackingevent (shipment_id, status, occurred_at, recorded_at, source, carrier_event_id,
                                  post_office_id, note, actor_id, postal_worker, dossier_event_id)
SELECT sh.id, step.status, step.at, step.at, step.source, 'demo-' || sh.id || '-' || step.n,
       step.office, step.note, NULL, '', NULL
FROM postal_shipment sh
JOIN dossiers_dossier d ON d.id = sh.dossier_id AND d.is_demo
CROSS JOIN LATERAL (VALUES
    (1, 'pending', sh.created_at, 'portal', NULL::bigint, ''),
    (2, 'created', sh.created_at + interval '1 minute', 'carrier', NULL, ''),
    (3, 'picked_up', sh.picked_up_at, 'carrier', NULL, ''),
    (4, 'in_transit', CASE WHEN sh.status = 'delivered' THEN sh.picked_up_at + (sh.delivered_at - sh.picked_up_at) / 2
                           WHEN sh.status IN ('in_transit', 'delivery_failed') THEN sh.picked_up_at + interval '4 hours'
                      END, 'carrier', sh.last_point_id, ''),
    (5, 'delivery_failed', CASE WHEN sh.failed_attempts > 0 AND sh.status = 'delivered'
                                THEN sh.picked_up_at + (sh.delivered_at - sh.picked_up_at) * 3 / 4
                                WHEN sh.status = 'delivery_failed' THEN sh.status_at END,
        'carrier', sh.last_point_id, 'Không có người nhận / Nobody at the address'),
    (6, 'delivered', sh.delivered_at, 'carrier', NULL, '')
) AS step(n, status, at, source, office, note)
WHERE step.at IS NOT NULL
"""


_DEMO_SHIPMENTS = "SELECT s.id FROM postal_shipment s JOIN dossiers_dossier d ON d.id = s.dossier_id WHERE d.is_demo"

# The hand-overs as steps on the dossiers' timelines (recorded steps change no
# status), by the carrier.
_EVENTS_SQL = """
INSERT INTO dossiers_dossierevent (dossier_id, action, from_status, to_status, actor_id, actor_name, actor_role,
                                   actor_agency_id, actor_point_id, to_agency_id, note, at)
SELECT sh.dossier_id, step.action, step.status_then, step.status_then, NULL, %(carrier)s, '', NULL, NULL, NULL,
       'Mã bưu gửi / Tracking: ' || sh.tracking_number || ' (trả kết quả / result)', t.occurred_at
FROM postal_trackingevent t
JOIN postal_shipment sh ON sh.id = t.shipment_id
JOIN dossiers_dossier d ON d.id = sh.dossier_id AND d.is_demo
JOIN (VALUES ('created', 'shipment_created', 'result_ready'), ('picked_up', 'shipment_picked_up', 'result_ready'),
             ('delivery_failed', 'shipment_failed', 'result_ready'),
             -- written after the return it caused, at the same moment
             ('delivered', 'shipment_delivered', 'result_returned')) AS step(status, action, status_then)
  ON step.status = t.status
"""


def postal_demo_delete(cursor) -> None:
    """Removes the parcels of the demo history (before its dossiers go)."""
    cursor.execute(f"DELETE FROM postal_carriercallback WHERE shipment_id IN ({_DEMO_SHIPMENTS})")
    cursor.execute(f"DELETE FROM postal_trackingevent WHERE shipment_id IN ({_DEMO_SHIPMENTS})")
    cursor.execute(f"DELETE FROM postal_carrierrequest WHERE shipment_id IN ({_DEMO_SHIPMENTS})")
    cursor.execute(f"DELETE FROM postal_shipment WHERE id IN ({_DEMO_SHIPMENTS})")


def postal_demo_present() -> bool:
    """Whether the demo history has its parcels (or has no result by post)."""
    from dossiers.models import Dossier

    due = Dossier.objects.filter(is_demo=True, result_delivery="post", status__in=["result_ready", "result_returned"])
    return not due.exists() or Shipment.objects.filter(dossier__is_demo=True).exists()


def postal_demo_generate(cursor, *, with_events: bool = True) -> int:
    """Demo parcels for the demo dossiers whose result goes by post (run on
    the history's cursor); how many were made."""
    from .services import CARRIER_NAME

    cursor.execute(
        _SHIPMENTS_SQL,
        {
            "province": settings.PORTAL_PROVINCE_CODE,
            "weight": settings.VNPOST_PARCEL_WEIGHT_G,
            "post_office": ServicePointKind.POST_OFFICE.value,
        },
    )
    made = cursor.rowcount
    cursor.execute(_TRACKING_SQL)
    if with_events:
        cursor.execute(_EVENTS_SQL, {"carrier": CARRIER_NAME})
    return made
