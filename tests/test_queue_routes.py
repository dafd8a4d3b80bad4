"""Every task the portal registers has a queue of its kind (gisportal/queues.py),
and a worker started without -Q consumes every one of those queues: one
machine keeps working as before, while a host may take a chosen kind."""

from django.conf import settings

from gisportal.celery import app
from gisportal.queues import IMPORTS, NOTIFICATIONS


def portal_tasks() -> set[str]:
    app.loader.import_default_modules()  # autodiscovery, as a worker does on start
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_registered_task_has_a_route_to_a_declared_queue():
    tasks = portal_tasks()
    assert "layers.tasks.import_layer_task" in tasks and len(tasks) >= 14, tasks
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    unrouted = sorted(tasks - set(settings.CELERY_TASK_ROUTES))
    assert unrouted == [], f"tasks without a route in gisportal/queues.py: {unrouted}"
    undeclared = {task: route["queue"] for task, route in settings.CELERY_TASK_ROUTES.items()}
    assert {queue for queue in undeclared.values() if queue not in declared} == set()
    assert sorted(set(settings.CELERY_TASK_ROUTES) - tasks) == [], "a route names a task that does not exist"


def test_tasks_are_sent_to_the_queue_of_their_kind():
    router = app.amqp.router
    assert router.route({}, "layers.tasks.import_layer_task")["queue"].name == IMPORTS
    assert router.route({}, "notifications.tasks.notification_send_task")["queue"].name == NOTIFICATIONS
    assert router.route({}, "gisportal.tasks.outbox_sweep_task")["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_without_q_consumes_every_queue():
    # Without -Q a worker subscribes to every queue of the app's configuration
    # (tests/test_workers_hosts.py runs such workers on routed imports). Other
    # tests of this process may have added queues of their own to the app.
    configured = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert configured == {"celery", "imports", "rebuilds", "notifications", "calls"}
    assert configured <= set(app.amqp.queues)
