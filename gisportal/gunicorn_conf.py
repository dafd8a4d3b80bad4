"""gunicorn's settings for the production start, in one place: `./portal serve
--production` runs `gunicorn -c gisportal/gunicorn_conf.py`, and the
benchmarks that measure the serving profile (bench/common.py,
`production_profile`) start the same file, overriding only the bind address
and what a bench option asks for.

Environment: WEB_WORKERS (default cores + 1), WEB_THREADS (4),
WEB_MAX_REQUESTS (2000, a worker is replaced after that many requests, with
10 % jitter), BIND (127.0.0.1:8000), FORWARDED_ALLOW_IPS (the TLS proxy,
127.0.0.1), WEB_ACCESS_LOG ("-" for standard output, a file, or empty for
none) and WEB_PRELOAD ("0" to import the application in each worker)."""

import os
import sys

_cores = os.cpu_count() or 2

bind = os.environ.get("BIND") or "127.0.0.1:8000"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS") or _cores + 1)
threads = int(os.environ.get("WEB_THREADS") or 4)
timeout = 60
graceful_timeout = 30
max_requests = int(os.environ.get("WEB_MAX_REQUESTS") or 2000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None

# The application is imported once, by the master, and every worker is a fork
# of it. A worker replaced after max_requests then starts in milliseconds
# instead of importing Django, DRF and GeoDjango again (about a second of CPU
# each: at 500 requests a second, 3 workers recycled every 12 s or so cost the
# server a tenth of its CPU; bench/README.md, nearest). The price: a deploy
# restarts gunicorn (a HUP re-forks the workers from the code already loaded).
preload_app = os.environ.get("WEB_PRELOAD", "1") != "0"


def when_ready(server):
    """Before the first fork: the master keeps no database connection that
    its workers would inherit and share (importing opens none today; a
    module that queried at import time would)."""
    db = sys.modules.get("django.db")
    if preload_app and db is not None:
        db.connections.close_all()
