from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "insecure-test-key"
ALLOWED_HOSTS = ["*"]
# Tests hammer the API from one address; the throttle test lowers this.
PUBLIC_LOOKUP_RATE = env.get("PUBLIC_LOOKUP_RATE", "100000/min")  # noqa: F405
# A memory cache per process unless a test's server is given CACHE_URL: test
# runs at once must not share rate-limit counters.
CACHE_URL = env.get("CACHE_URL")  # noqa: F405
CACHES = {"default": env.cache(CACHE_URL)}  # noqa: F405
# Off: tests clear the shared cache between them, while a layer's id and
# version may come back after a flush. The test of RecentTiles turns it on.
TILE_MEMORY_CACHE_BYTES = int(env.get("TILE_MEMORY_CACHE_BYTES", "0"))  # noqa: F405
# Written at once, for the same reason: a batch written after a test's flush
# would hand the next test a tile of a layer that has its id and version.
# The tests of WrittenBehind turn it on.
TILE_CACHE_WRITE_DELAY_SECONDS = float(env.get("TILE_CACHE_WRITE_DELAY_SECONDS", "0"))  # noqa: F405
# Short outbox intervals, so that fault tests take seconds (their workers and
# beat read these from the environment like any process).
OUTBOX_HEARTBEAT_S = float(env.get("OUTBOX_HEARTBEAT_S", "0.25"))  # noqa: F405
OUTBOX_STALE_AFTER_S = float(env.get("OUTBOX_STALE_AFTER_S", "3"))  # noqa: F405
OUTBOX_SWEEP_EVERY_S = float(env.get("OUTBOX_SWEEP_EVERY_S", "0.5"))  # noqa: F405
OUTBOX_RETRY_BASE_S = float(env.get("OUTBOX_RETRY_BASE_S", "0.5"))  # noqa: F405
OUTBOX_RETRY_MAX_S = float(env.get("OUTBOX_RETRY_MAX_S", "2"))  # noqa: F405
PAYMENT_CALL_TIMEOUT_S = float(env.get("PAYMENT_CALL_TIMEOUT_S", "2"))  # noqa: F405
VNPAY_SANDBOX_IPN_REPEAT_S = float(env.get("VNPAY_SANDBOX_IPN_REPEAT_S", "1"))  # noqa: F405
CELERY_BEAT_SCHEDULE["outbox-sweep"].update(  # noqa: F405
    schedule=OUTBOX_SWEEP_EVERY_S, options={"expires": OUTBOX_SWEEP_EVERY_S}
)
# No mail leaves a test process unless a test gives it an SMTP server (its own sink).
if not EMAIL_HOST:  # noqa: F405
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# MD5 for speed; the default hasher too, so a server on these settings signs in
# accounts made under the dev settings (e.g. a demo copy for bench/schemathesis_run.py).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
STORAGES = {
    **STORAGES,  # noqa: F405 (the files' stores of base, PORTAL_STORAGE)
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files straight from the finders, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
