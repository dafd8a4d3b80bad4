"""The production start, in one place: `./portal serve --production` runs
`python -m gisportal.serving`, and the benchmarks that measure the serving
profile (bench/common.py, `production_profile`) start the same module,
overriding only the bind address and what a bench option asks for.

The server is Granian (its HTTP/1.1 in Rust, the application on Python
threads): on this machine it costs 0.17-0.19 ms of CPU a request where
gunicorn's gthread worker cost 0.46-0.55 ms for the same minimal app, and
the nearest look-up went from 690-1,110 to 1,400-1,690 req/s with 8
connections (docs/decisions.md, "Granian, not gunicorn").

Environment: BIND (127.0.0.1:8000), WEB_WORKERS (cores + 1), WEB_THREADS
(4 application threads a worker), WEB_MAX_RSS (MiB; a worker over it is
replaced; 1024), WEB_ACCESS_LOG ("-" for standard output, a file, or empty
for none) and WEB_PRELOAD ("0" to import the application in each worker).
The options --bind, --workers and --threads override the first three (the
benchmarks and the tests pick a free port).

Two things Granian does differently from gunicorn, and what is done here:
- Its WSGI environ starts from a copy of the process environment, so the
  secrets (DJANGO_SECRET_KEY, DATABASE_URL with its password) would be in
  every request.META and in error reports. The environ is built here
  without them (`_wsgi_callback`).
- It passes header names with underscores (`X_Forwarded_For`) under the
  same key as the dashed one, where gunicorn drops them. The TLS proxy in
  front must drop them (nginx does by default: underscores_in_headers off;
  README, Production), as the client address the rate limits count comes
  from X-Forwarded-For."""

import gc
import logging
import os
import sys
import time
from pathlib import Path

TARGET = "gisportal.wsgi:application"
ACCESS_LOG_FORMAT = (
    '%(addr)s [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f ms "%(query_string)s"'
)


def options(environ=os.environ, target: str = TARGET) -> dict:
    """Granian's keyword arguments for the production start, from the
    environment (the module's docstring)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    bind = environ.get("BIND") or "127.0.0.1:8000"
    host, _, port = bind.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"BIND (--bind) must be HOST:PORT, not {bind!r}")
    access_log = environ.get("WEB_ACCESS_LOG", "-")
    return {
        "target": target,
        "address": host or "127.0.0.1",
        "port": _whole(port, "BIND's port"),
        "interface": Interfaces.WSGI,
        "workers": _whole(environ.get("WEB_WORKERS") or (os.cpu_count() or 2) + 1, "WEB_WORKERS (--workers)"),
        "blocking_threads": _whole(environ.get("WEB_THREADS") or 4, "WEB_THREADS (--threads)"),
        "http": HTTPModes.http1,  # the TLS proxy speaks HTTP/1.1 to us
        "http1_settings": HTTP1Settings(keep_alive=True),
        "websockets": False,
        "respawn_failed_workers": True,
        "respawn_interval": 1.0,
        "workers_max_rss": _whole(environ.get("WEB_MAX_RSS") or 1024, "WEB_MAX_RSS (MiB)"),
        "workers_kill_timeout": 30,
        "log_access": bool(access_log),
        "log_access_format": ACCESS_LOG_FORMAT,
        "log_dictconfig": _log_config(access_log),
        "working_dir": Path(__file__).resolve().parent.parent,
    }


def _whole(value, setting: str) -> int:
    """A positive whole number, or a ValueError naming the setting."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{setting} must be a positive whole number, not {value!r}")
    return number


def _log_config(access_log: str) -> dict:
    from granian.log import LOGGING_CONFIG

    config = {key: dict(value) if isinstance(value, dict) else value for key, value in LOGGING_CONFIG.items()}
    if access_log and access_log != "-":
        config["handlers"] = {
            **config["handlers"],
            "access": {"formatter": "access", "class": "logging.FileHandler", "filename": access_log},
        }
    return config


def _wsgi_callback(callback, scope_opts, access_log_fmt=None):
    """Granian's WSGI callback built with an empty process environment, so
    that the environ of every request holds the request's keys and WSGI's
    only, and with `_access_logged`'s access line. Run once in each worker,
    before it serves anything."""
    from granian import wsgi

    # Another logging configuration of the access log (not the one stream handler `options` sets up)
    # keeps Granian's own logger.
    handlers = logging.getLogger("granian.access").handlers
    ours = bool(access_log_fmt) and len(handlers) == 1 and isinstance(handlers[0], logging.StreamHandler)
    kept = dict(os.environ)
    os.environ.clear()
    try:
        runner = wsgi._callback_wrapper(callback, scope_opts, None if ours else access_log_fmt)
    finally:
        os.environ.update(kept)
    return _access_logged(runner, access_log_fmt, handlers[0]) if ours else runner


def _access_logged(runner, line_format: str, handler: logging.StreamHandler):
    """Granian's WSGI runner writing its access line (`line_format`, the
    keys of Granian's access log) to the access handler's stream itself, a
    line flushed as Granian's handler flushes it, instead of through the
    logging module: a LogRecord, its handler chain and a datetime for every
    request cost 20 us of CPU in a tight loop and a tenth of a look-up's
    Python time under load (bench/README.md). The time is formatted once a
    second; an exception from the application is logged as a 500, as
    Granian does."""
    stream, lock = handler.stream, handler.lock
    stamp = (-1, "")  # a second and its text, replaced whole (threads)

    def logged(proto, scope):
        nonlocal stamp
        wall, started = time.time(), time.perf_counter()
        status = 500
        try:
            status = runner(proto, scope)
            return status
        finally:
            second = int(wall)
            if stamp[0] != second:
                stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(second)))
            line = line_format % {
                "addr": scope["REMOTE_ADDR"],
                "time": stamp[1],
                "method": scope["REQUEST_METHOD"],
                "path": scope["PATH_INFO"],
                "protocol": scope["SERVER_PROTOCOL"],
                "status": status,
                "dt_ms": (time.perf_counter() - started) * 1000,
                "query_string": scope["QUERY_STRING"],
            }
            with lock:
                stream.write(line + "\n")
                stream.flush()

    return logged


def _preloaded(target: str):
    """The application imported once, by the master; every worker is a fork
    of it, so a replaced worker starts in milliseconds instead of importing
    Django, DRF and GeoDjango again (about a second of CPU). The master keeps
    no database connection that its workers would inherit and share."""
    module, _, name = target.partition(":")
    __import__(module)
    application = getattr(sys.modules[module], name)
    db = sys.modules.get("django.db")
    if db is not None:
        db.connections.close_all()
    gc.collect()
    gc.freeze()
    return lambda _target: application


def main(argv: list[str] | None = None) -> None:
    import argparse

    from granian.server import mp

    parser = argparse.ArgumentParser(prog="python -m gisportal.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", help="HOST:PORT (else BIND)")
    parser.add_argument("--workers", type=int, help="worker processes (else WEB_WORKERS)")
    parser.add_argument("--threads", type=int, help="application threads a worker (else WEB_THREADS)")
    parser.add_argument(
        "--application", default=TARGET, help=f"the WSGI application, MODULE:NAME (default {TARGET}; benches' floors)"
    )
    args = parser.parse_args(argv)
    overrides = {"BIND": args.bind, "WEB_WORKERS": args.workers, "WEB_THREADS": args.threads}
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisportal.settings.production")
    try:
        given = {name: str(value) for name, value in overrides.items() if value is not None}
        server_options = options({**os.environ, **given}, args.application)
    except ValueError as error:  # named, not a traceback: "BIND must be HOST:PORT, not ..."
        parser.error(str(error))
    mp._wsgi_call_wrap = _wsgi_callback  # what each worker builds its callback with (forked: inherited)
    server = mp.MPServer(**server_options)
    loader = _preloaded(args.application) if os.environ.get("WEB_PRELOAD", "1") != "0" else None
    logging.getLogger("_granian").info(
        "gisportal: %s workers x %s threads on %s:%s",
        server_options["workers"],
        server_options["blocking_threads"],
        server_options["address"],
        server_options["port"],
    )
    server.serve(target_loader=loader)


if __name__ == "__main__":
    main()
