"""Fees paid, pre-counted (`PaymentCount`) per day of payment and per
dimension of the Decision 766 dashboard: written in the transaction that
settles a request, rebuilt in one statement after bulk loads
(`payment_counts_rebuild`). The dashboard sums these rows, so its cost
follows days × groups, not the number of payments.

Keys are those of `dossiers.DailyStat` for receipts: the whole province
(0), the agency that received the dossier, its receiving service point,
and the applicant's 2025 commune (0 when unknown). A refund leaves the
count as it is: the fee was paid, and by that channel."""

from django.db import connection, transaction
from django.utils import timezone

from dossiers.models import Dossier

from .models import ONLINE_METHODS, Payment

DIMENSIONS = ("all", "agency", "service_point", "commune")


def _keys(dossier: Dossier) -> list[tuple[str, int]]:
    return [
        ("agency", dossier.receiving_agency_id or dossier.agency_id),
        ("all", 0),
        ("commune", dossier.applicant_commune_id or 0),
        ("service_point", dossier.receiving_point_id),
    ]


def count_paid(payment: Payment, dossier: Dossier) -> None:
    day = timezone.localtime(payment.paid_at).date()
    online = int(payment.method in ONLINE_METHODS)
    keys = _keys(dossier)  # always in one order: concurrent payments lock rows in one order
    values = ", ".join(["(%s, %s, %s, 1, %s)"] * len(keys))
    params: list = []
    for dimension, key in keys:
        params += [day, dimension, key, online]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payments_paymentcount AS c (day, dimension, key, paid, paid_online) "
            f"VALUES {values} ON CONFLICT (dimension, day, key) DO UPDATE "
            "SET paid = c.paid + 1, paid_online = c.paid_online + EXCLUDED.paid_online",
            params,
        )


def payment_counts_rebuild() -> int:
    """Recounts every row from the payments (after COPY loads); settlements
    wait for it instead of adding to rows it replaces. One pass over the
    payments and their dossiers, each fact counted under the four keys."""
    tz = timezone.get_current_timezone_name()
    online = ", ".join(f"'{method}'" for method in ONLINE_METHODS)
    facts = f"""SELECT (p.paid_at AT TIME ZONE %(tz)s)::date AS day, (p.method IN ({online}))::int AS online,
                       coalesce(d.receiving_agency_id, d.agency_id) AS agency, d.receiving_point_id AS point,
                       coalesce(d.applicant_commune_id, 0) AS commune
                FROM payments_payment p
                JOIN payments_paymentrequest r ON r.id = p.request_id
                JOIN dossiers_dossier d ON d.id = r.dossier_id"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE payments_paymentcount IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM payments_paymentcount")
        cursor.execute(
            "INSERT INTO payments_paymentcount (day, dimension, key, paid, paid_online) "
            f"SELECT f.day, k.dimension, k.key, count(*), sum(f.online) FROM ({facts}) AS f "
            "CROSS JOIN LATERAL (VALUES ('all', 0::bigint), ('agency', f.agency), ('service_point', f.point), "
            "('commune', f.commune)) AS k(dimension, key) GROUP BY f.day, k.dimension, k.key",
            {"tz": tz},
        )
        return cursor.rowcount
