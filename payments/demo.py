"""Payments of the demo history (registered with
`dossiers.extensions.demo_history_part_register`): every demo dossier
with a fee gets its request, and most of them a payment, written inside
PostgreSQL by INSERT ... SELECT over the demo dossiers (no row crosses the
wire), with the orders and IPN rows of online payments, the bank lines of
transfers, their events on the dossiers' timelines, a few differences for
the reconciliation report to show, and the pre-counted rows rebuilt.

Choices are pseudo-random but fixed per dossier id (a multiplicative hash),
so two runs give the same history:
- a dossier refused, withdrawn or stopped leaves its request unpaid 30% of
  the time (expired); a request received in the last 3 days is paid 40% of
  the time (the others wait), older ones 93% (the others expired);
- online dossiers pay through VNPay (70%), by VietQR transfer (20%) or at
  the desk (10%); dossiers received at a desk or by post pay cash (70%), by
  card on the POS (25%) or online (5%);
- one online payment in 400 has a duplicate successful IPN for another order
  (a citizen who paid twice), and one demo bank line in 1,500 dossiers
  matches nothing."""

from django.utils import timezone

from .counts import payment_counts_rebuild

# A request's due time in the demo: 17:00 local, four calendar days after receipt
# (at least three working days but across long holidays).
_DUE = "((date_trunc('day', d.received_at AT TIME ZONE %(tz)s) + interval '4 days 17 hours') AT TIME ZONE %(tz)s)"
_HASH = "((d.id * 2654435761) %% 1000)"

_DEMO_REQUESTS = "SELECT r.id FROM payments_paymentrequest r WHERE r.is_demo"


def payments_demo_delete(cursor) -> None:
    """Removes the payment rows of the demo history (before its dossiers go)."""
    orders = f"SELECT id FROM payments_onlineorder WHERE request_id IN ({_DEMO_REQUESTS})"
    payments = f"SELECT id FROM payments_payment WHERE request_id IN ({_DEMO_REQUESTS})"
    cursor.execute(f"DELETE FROM payments_refund WHERE payment_id IN ({payments})")
    cursor.execute(f"DELETE FROM payments_payment WHERE request_id IN ({_DEMO_REQUESTS})")
    cursor.execute(f"DELETE FROM payments_gatewaytransaction WHERE order_id IN ({orders})")
    cursor.execute(f"DELETE FROM payments_onlineorder WHERE request_id IN ({_DEMO_REQUESTS})")
    cursor.execute(f"DELETE FROM payments_bankstatementline WHERE is_demo OR request_id IN ({_DEMO_REQUESTS})")
    cursor.execute(f"DELETE FROM payments_feeline WHERE request_id IN ({_DEMO_REQUESTS})")
    cursor.execute("DELETE FROM payments_paymentrequest WHERE is_demo")


# When a paid demo fee was paid: 2 to 181 minutes after receipt, never in the future.
_PAID_AT = "least(d.received_at + ((d.id * 7919) %% 180 + 2) * interval '1 minute', %(now)s)"
# How: online dossiers VNPay / transfer / desk; the others cash / POS / VNPay.
_METHOD = """CASE WHEN d.channel = 2 THEN
                 CASE WHEN (d.id * 40503) %% 100 < 70 THEN 'vnpay'
                      WHEN (d.id * 40503) %% 100 < 90 THEN 'bank_transfer' ELSE 'cash' END
             ELSE CASE WHEN (d.id * 40503) %% 100 < 70 THEN 'cash'
                       WHEN (d.id * 40503) %% 100 < 95 THEN 'pos' ELSE 'vnpay' END END"""

_INSERT_REQUESTS = f"""
WITH fee_dossiers AS (
    SELECT d.id, d.received_at, d.applicant_name, d.applicant_id, d.fee_vnd, {_DUE} AS due_at,
           {_PAID_AT} AS paid_at, nextval('payments_reference_seq') AS n,
           CASE WHEN d.status IN ('refused', 'withdrawn', 'stopped') AND {_HASH} < 300 THEN 'expired'
                WHEN d.received_at > %(now)s - interval '3 days' THEN
                     CASE WHEN {_HASH} < 400 THEN 'paid' ELSE 'pending' END
                WHEN {_HASH} < 930 THEN 'paid'
                ELSE 'expired' END AS status
    FROM dossiers_dossier d WHERE d.is_demo AND d.fee_vnd > 0
)
INSERT INTO payments_paymentrequest
    (dossier_id, reference, status, amount_vnd, payer_name, payer_id, created_at, due_at, closed_at, is_demo)
SELECT f.id,
       'LP' || lpad(f.n::text, 10, '0') || lpad((98 - (f.n * 100) %% 97)::text, 2, '0'),
       f.status, f.fee_vnd, f.applicant_name, f.applicant_id, f.received_at, f.due_at,
       CASE f.status WHEN 'paid' THEN f.paid_at WHEN 'expired' THEN f.due_at END, true
FROM fee_dossiers f
"""

# The paid demo requests with their method (orders, bank lines and payments read it).
_PAID = f"""SELECT r.id AS request_id, r.reference, r.amount_vnd, r.closed_at AS paid_at,
                   d.receiving_point_id, {_METHOD} AS method
            FROM payments_paymentrequest r JOIN dossiers_dossier d ON d.id = r.dossier_id
            WHERE r.is_demo AND r.status = 'paid'"""

_INSERT_FEE_LINES = """
INSERT INTO payments_feeline (request_id, position, label, amount_vnd)
SELECT r.id, 1, left('Phí, lệ phí: ' || p.name, 300), r.amount_vnd
FROM payments_paymentrequest r JOIN dossiers_dossier d ON d.id = r.dossier_id
JOIN dossiers_procedure p ON p.id = d.procedure_id WHERE r.is_demo
"""

_INSERT_ORDERS = f"""
INSERT INTO payments_onlineorder
    (request_id, txn_ref, amount_vnd, status, created_at, expires_at, ip_address, response_code,
     transaction_no, settled_at)
SELECT p.request_id, p.reference || 'T01', p.amount_vnd, 'paid', p.paid_at - interval '2 minutes',
       p.paid_at + interval '13 minutes', '127.0.0.1', '00', (14000000 + p.request_id)::text, p.paid_at
FROM ({_PAID}) p WHERE p.method = 'vnpay'
"""

_INSERT_IPNS = """
INSERT INTO payments_gatewaytransaction
    (kind, received_at, params, signature_valid, txn_ref, order_id, amount_vnd, response_code, transaction_status,
     transaction_no, bank_code, pay_date, answer_code, client_ip)
SELECT 'ipn', o.settled_at + interval '3 seconds',
       jsonb_build_object('vnp_TxnRef', o.txn_ref, 'vnp_Amount', (o.amount_vnd * 100)::text, 'vnp_ResponseCode', '00',
                          'vnp_TransactionStatus', '00', 'vnp_TransactionNo', o.transaction_no, 'demo', 'true'),
       true, o.txn_ref, o.id, o.amount_vnd, '00', '00', o.transaction_no, 'NCB', o.settled_at, '00', '127.0.0.1'
FROM payments_onlineorder o JOIN payments_paymentrequest r ON r.id = o.request_id WHERE r.is_demo
UNION ALL
-- a citizen who paid twice: a second order of the same request, paid at the gateway, not settled
SELECT 'ipn', o.settled_at + interval '9 minutes',
       jsonb_build_object('vnp_TxnRef', r.reference || 'T02', 'demo', 'true'),
       true, r.reference || 'T02', NULL::bigint, o.amount_vnd, '00', '00', '9' || o.transaction_no, 'NCB',
       o.settled_at + interval '8 minutes', '02', '127.0.0.1'
FROM payments_onlineorder o JOIN payments_paymentrequest r ON r.id = o.request_id
WHERE r.is_demo AND (o.request_id * 2654435761) %% 400 = 0
"""

_INSERT_BANK_LINES = f"""
INSERT INTO payments_bankstatementline
    (bank_reference, value_date, amount_vnd, memo, reference, request_id, status, recorded_at, is_demo)
SELECT 'FT' || (26000000 + p.request_id)::text, (p.paid_at AT TIME ZONE %(tz)s)::date, p.amount_vnd,
       'CK ' || p.reference || ' NOP PHI HO SO', p.reference, p.request_id, 'matched', p.paid_at + interval '1 day',
       true
FROM ({_PAID}) p WHERE p.method = 'bank_transfer'
UNION ALL
SELECT 'FTX' || d.id::text, (d.received_at AT TIME ZONE %(tz)s)::date, 100000 + (d.id %% 5) * 50000,
       'CHUYEN TIEN NOP PHI KHONG GHI MA', '', NULL::bigint, 'unmatched', d.received_at + interval '1 day', true
FROM dossiers_dossier d WHERE d.is_demo AND (d.id * 2654435761) %% 1500 = 7
"""

_INSERT_PAYMENTS = f"""
WITH numbered AS (
    SELECT p.*, extract(year FROM p.paid_at AT TIME ZONE %(tz)s)::int AS year,
           row_number() OVER (
               PARTITION BY extract(year FROM p.paid_at AT TIME ZONE %(tz)s) ORDER BY p.paid_at, p.request_id
           ) AS seq
    FROM ({_PAID}) p
)
INSERT INTO payments_payment
    (request_id, method, amount_vnd, paid_at, external_reference, order_id, gateway_transaction_id, bank_line_id,
     recorded_by_name, service_point_id, receipt_number, is_demo)
SELECT n.request_id, n.method, n.amount_vnd, n.paid_at,
       coalesce(o.transaction_no, b.bank_reference, CASE WHEN n.method = 'pos' THEN 'POS' || n.request_id END, ''),
       o.id, g.id, b.id,
       CASE WHEN n.method = 'vnpay' THEN 'VNPay' WHEN n.method = 'bank_transfer' THEN %(bank)s ELSE %(desk)s END,
       CASE WHEN n.method IN ('cash', 'pos') THEN n.receiving_point_id END,
       n.year || '-' || lpad((n.seq + coalesce(c.last, 0))::text, 7, '0'),
       true
FROM numbered n
LEFT JOIN payments_receiptcounter c ON c.year = n.year
LEFT JOIN payments_onlineorder o ON o.request_id = n.request_id AND n.method = 'vnpay'
LEFT JOIN payments_gatewaytransaction g ON g.order_id = o.id AND g.answer_code = '00'
LEFT JOIN payments_bankstatementline b ON b.request_id = n.request_id AND b.is_demo AND n.method = 'bank_transfer'
"""

_RECEIPT_COUNTERS = """
INSERT INTO payments_receiptcounter (year, last)
SELECT split_part(receipt_number, '-', 1)::int, max(split_part(receipt_number, '-', 2)::int)
FROM payments_payment WHERE is_demo GROUP BY 1
ON CONFLICT (year) DO UPDATE SET last = greatest(payments_receiptcounter.last, EXCLUDED.last)
"""

# The dossier's status at a moment: that of its last workflow event until then.
_STATUS_AT = """(SELECT e.to_status FROM dossiers_dossierevent e
                WHERE e.dossier_id = r.dossier_id AND e.at <= {at} AND e.action NOT LIKE 'payment%%'
                ORDER BY e.at DESC, e.id DESC LIMIT 1)"""

_INSERT_EVENTS = """
INSERT INTO dossiers_dossierevent
    (dossier_id, action, from_status, to_status, actor_name, actor_role, actor_agency_id, actor_point_id,
     to_agency_id, note, at)
SELECT r.dossier_id, 'payment_requested', 'received', 'received', 'Hệ thống / System', '',
       NULL::bigint, NULL::bigint, NULL::bigint,
       'Yêu cầu nộp phí, mã thanh toán ' || r.reference || ' / Fee requested, payment reference ' || r.reference,
       r.created_at
FROM payments_paymentrequest r WHERE r.is_demo
UNION ALL
SELECT r.dossier_id, 'payment_paid', {paid_status}, {paid_status}, p.recorded_by_name, '', NULL,
       p.service_point_id, NULL,
       'Đã nộp phí; biên lai số ' || p.receipt_number || ' / Fee paid; receipt ' || p.receipt_number, p.paid_at
FROM payments_payment p JOIN payments_paymentrequest r ON r.id = p.request_id WHERE p.is_demo
UNION ALL
SELECT r.dossier_id, 'payment_expired', {expired_status}, {expired_status}, 'Hệ thống / System', '',
       NULL, NULL, NULL,
       'Quá hạn nộp phí / The fee was not paid in time', r.closed_at
FROM payments_paymentrequest r
WHERE r.is_demo AND r.status = 'expired'
""".format(paid_status=_STATUS_AT.format(at="p.paid_at"), expired_status=_STATUS_AT.format(at="r.closed_at"))


def payments_demo_present() -> bool:
    """Whether the demo history has its payments (or has no fee to pay)."""
    from dossiers.models import Dossier

    from .models import PaymentRequest

    fee_dossiers = Dossier.objects.filter(is_demo=True, fee_vnd__gt=0)
    return not fee_dossiers.exists() or PaymentRequest.objects.filter(is_demo=True).exists()


def payments_demo_generate(cursor, *, with_events: bool = True) -> None:
    parameters = {
        "tz": timezone.get_current_timezone_name(),
        "now": timezone.now(),
        "desk": "Cán bộ một cửa (demo)",
        "bank": "Kế toán (demo)",
    }
    for statement in (
        _INSERT_REQUESTS,
        _INSERT_FEE_LINES,
        _INSERT_ORDERS,
        _INSERT_IPNS,
        _INSERT_BANK_LINES,
        _INSERT_PAYMENTS,
        _RECEIPT_COUNTERS,
        *((_INSERT_EVENTS,) if with_events else ()),
    ):
        cursor.execute(statement, parameters)
    payment_counts_rebuild()
    # In (dimension, day) order, as dossiers' DailyStat: the dashboard reads a
    # year of one dimension from a few pages (18 ms became 3 ms at 200,000).
    cursor.execute("CLUSTER payments_paymentcount USING paymentcount_key")
    for table in (
        "payments_paymentrequest",
        "payments_payment",
        "payments_gatewaytransaction",
        "payments_paymentcount",
    ):
        cursor.execute(f"ANALYZE {table}")
