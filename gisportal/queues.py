"""Celery queues by kind of work, so that one kind never waits behind another
(a long registry import never delays a notification).

Every task has a route here; tests/test_queue_routes.py fails for a task
without one, so a new task cannot land on the default queue by accident.
A worker started without `-Q` consumes every queue (one machine: nothing
changes); a host that should take one kind starts `celery -A gisportal
worker -Q imports` (README, "Workers on other hosts").

No task exports or downloads anything yet (exports are streamed by the web
process), so there is no `exports` queue: the first such task adds one here.
"""

from kombu import Queue

DEFAULT = "celery"  # CELERY_TASK_DEFAULT_QUEUE may rename it
IMPORTS = "imports"  # registry uploads: minutes of GDAL reading and COPY
REBUILDS = "rebuilds"  # long spatial computations over whole tables
NOTIFICATIONS = "notifications"  # messages to people: notifications, SMS, Zalo
CALLS = "calls"  # calls to outside systems that may hang up to their timeout: gateways, carriers

QUEUE_NAMES = (DEFAULT, IMPORTS, REBUILDS, NOTIFICATIONS, CALLS)

ROUTES = {
    # Housekeeping sent by beat: short, and dropped when late (expires).
    "gisportal.tasks.outbox_sweep_task": {"queue": DEFAULT},
    "dossiers.tasks.drafts_expire_task": {"queue": DEFAULT},
    "payments.tasks.payment_requests_expire_task": {"queue": DEFAULT},
    "postal.sandbox.tasks.sandbox_tick_task": {"queue": DEFAULT},
    "layers.tasks.import_layer_task": {"queue": IMPORTS},
    "layers.tasks.nearest_run_task": {"queue": REBUILDS},
    # Daily, and a minute's GROUP BY over the month rows when a quarter has ended (5M dossiers).
    "dossiers.tasks.density_quarters_close_task": {"queue": REBUILDS},
    "notifications.tasks.notification_send_task": {"queue": NOTIFICATIONS},
    "gisportal.accounts.tasks.sms_send_task": {"queue": NOTIFICATIONS},
    "chatbot.tasks.zalo_event_task": {"queue": NOTIFICATIONS},
    "chatbot.tasks.outbound_send_task": {"queue": NOTIFICATIONS},
    "payments.tasks.refund_run_task": {"queue": CALLS},
    "payments.tasks.sandbox_ipn_deliver_task": {"queue": CALLS},
    "postal.tasks.carrier_request_task": {"queue": CALLS},
    "postal.sandbox.tasks.sandbox_callback_task": {"queue": CALLS},
}


def task_queues(*, default: str = DEFAULT) -> tuple[Queue, ...]:
    """CELERY_TASK_QUEUES: every queue a worker without -Q consumes."""
    names = [default if name == DEFAULT else name for name in QUEUE_NAMES]
    return tuple(Queue(name, routing_key=name) for name in names)


def task_routes(*, default: str = DEFAULT) -> dict[str, dict[str, str]]:
    """CELERY_TASK_ROUTES: the queue of every task, by its name."""
    return {task: {"queue": default if route["queue"] == DEFAULT else route["queue"]} for task, route in ROUTES.items()}
