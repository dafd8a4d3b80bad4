import hashlib
import hmac
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from gisportal.dbsession import SESSION_WARM_DEFAULT_BYTES

from . import env

BASE_DIR = env.BASE_DIR

SECRET_KEY = env.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env.get_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "gisportal.accounts",
    "gisportal.operations",
    "layers",
    "dossiers",
    "feedback",
    "payments",
    "postal",
    "postal.sandbox",
    "maps",
    "notifications",
    "chatbot",
    "chatbot.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # gzip for answers that hold no secret (BREACH: gisportal/compression.py);
    # high up, so that it sees the answer as every other middleware left it.
    "gisportal.compression.PublicGZipMiddleware",
    # NUL and other characters PostgreSQL cannot store: a 400 before any view.
    "gisportal.middleware.UnstorableInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "gisportal.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gisportal.middleware.VietnameseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused by the lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# The lockout backend first: a locked account or client is refused before
# any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "gisportal.urls"
WSGI_APPLICATION = "gisportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context.unread_notifications",
            ],
            # `|in_language` in every template: one language of a bilingual label.
            "builtins": ["gisportal.templatetags.language"],
        },
    },
]

DATABASES = {"default": env.database("postgis://gisportal:gisportal@127.0.0.1:5432/gisportal")}
# Each new session makes and frees this much once, so that its backend keeps
# the memory its statements use instead of faulting it back every time
# (gisportal/dbsession.py); 0: off.
DATABASE_SESSION_WARM_BYTES = int(env.get("DATABASE_SESSION_WARM_BYTES", str(SESSION_WARM_DEFAULT_BYTES)))

# --- Read replica (gisportal/dbrouting.py; README "Read replica and PgBouncer") ---
# Only with DATABASE_REPLICA_URL: stale-OK reads go to the "replica" alias.
DATABASE_POOLER = env.pooler() or ""
DATABASE_REPLICA_MAX_LAG_S = float(env.get("DATABASE_REPLICA_MAX_LAG_S", "5"))
DATABASE_REPLICA_CHECK_S = float(env.get("DATABASE_REPLICA_CHECK_S", "2"))
DATABASE_REPLICA_PROBE_TIMEOUT_S = float(env.get("DATABASE_REPLICA_PROBE_TIMEOUT_S", "1"))
DATABASE_REPLICA_STICKY_S = float(env.get("DATABASE_REPLICA_STICKY_S", "15"))
if (_replica := env.replica_database()) is not None:
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["gisportal.dbrouting.ReplicaRouter"]
    # Before the sessions, so that a session saved on the way out counts as a write.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "gisportal.dbrouting.ReplicaRoutingMiddleware",
    )
# --- end read replica ---
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "map"
LOGOUT_REDIRECT_URL = "map"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.get("DJANGO_STATIC_ROOT") or BASE_DIR / "var" / "staticfiles"
# Procedure forms (served one by one, never as a folder), registry uploads waiting for
# their import job, import error reports.
MEDIA_ROOT = env.get("DJANGO_MEDIA_ROOT") or BASE_DIR / "var" / "media"
MEDIA_URL = "/media/"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "gisportal.schema.PortalAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["gisportal.renderers.JSONRenderer"],  # orjson: gisportal/renderers.py
    # DRF's three, with the multipart one refusing text PostgreSQL cannot store.
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "gisportal.unstorable.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "gisportal.accounts.authentication.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "gisportal.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["gisportal.throttling.PublicLookupThrottle"],
    # `format` is a parameter of our exports, not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bắc Ninh GIS public-service portal API",
    "DESCRIPTION": "Administrative units, service points and nearest look-ups. "
    "Geometries are GeoJSON in EPSG:4326; distances are geodesic metres on WGS84.",
    "VERSION": "1.0.0",
    # Swagger UI assets come from the sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema documents the API, not itself.
    "SERVE_INCLUDE_SCHEMA": False,
    # Error components and schema-wide rules (gisportal/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "gisportal.schema.postprocess"],
}

# Who the client is (gisportal.clientip.client_ip, for rate limits and the
# sign-in lockout): REMOTE_ADDR, unless REMOTE_ADDR is one of these proxies
# (IPs or CIDR networks, comma-separated); then the right-most address of
# X-Forwarded-For that is not itself a trusted proxy. Behind nginx on the same
# host: TRUSTED_PROXIES=127.0.0.1,::1. None by default: a client's own
# X-Forwarded-For is never believed.
TRUSTED_PROXIES = env.get_list("TRUSTED_PROXIES")

# Sign-in lockout (django-axes; the rules are in gisportal/accounts/lockout.py).
# Failed sign-ins on /accounts/login/ and POST /api/v1/auth/token/ count per
# account (from any client) and per client (to any account); reaching either
# limit refuses sign-in with 429 until SIGNIN_COOLOFF_MINUTES have passed
# since the last failure. Each failure leaves an axes AccessFailureLog row.
AXES_HANDLER = "gisportal.accounts.lockout.PortalLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = int(env.get("SIGNIN_ACCOUNT_FAILURE_LIMIT", "10"))
SIGNIN_CLIENT_FAILURE_LIMIT = int(env.get("SIGNIN_CLIENT_FAILURE_LIMIT", "50"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env.get("SIGNIN_COOLOFF_MINUTES", "15")))
AXES_CLIENT_IP_CALLABLE = "gisportal.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "gisportal.accounts.lockout.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Logs and attempt rows name the account and address (passwords are always masked).
AXES_SENSITIVE_PARAMETERS: list[str] = []
# Never: it deletes the failures of the client address too, so one good
# account would wipe the count of guesses at others (lockout.py).
AXES_RESET_ON_SUCCESS = False

# API tokens (django-rest-knox, model accounts.ApiToken): only a hash is
# stored; each lives API_TOKEN_TTL_HOURS from sign-in and dies on logout.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own migrations create its default token table even when the model
# is swapped for ours; without them nothing of knox needs a table.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=int(env.get("API_TOKEN_TTL_HOURS", "10"))),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# Public look-ups (nearest, lists, dossier lookup) are limited per client.
PUBLIC_LOOKUP_RATE = env.get("PUBLIC_LOOKUP_RATE", "300/min")
# Password reset: requests per client (over it: 429), and e-mails per address
# (over it: the same "sent" page, nothing sent, so no mailbox is flooded and
# nobody learns whether an address has an account).
PASSWORD_RESET_CLIENT_RATE = env.get("PASSWORD_RESET_CLIENT_RATE", "10/hour")
PASSWORD_RESET_ADDRESS_RATE = env.get("PASSWORD_RESET_ADDRESS_RATE", "3/hour")

# The base map under every map page (maps.basemap, static/maps/basemap.js).
# Always drawn: the portal's own context layer (province and commune outlines,
# commune and service-point names) from its own API, so nothing leaves the
# machine by default. BASE_MAP_KIND=xyz adds raster tiles from BASE_MAP_URL
# (a {z}/{x}/{y} template, e.g. a tile server inside the government network);
# BASE_MAP_KIND=style draws a vector map from a MapLibre/Mapbox GL style JSON at
# BASE_MAP_URL (http(s)://, or a path on the portal), with MapLibre GL JS.
BASE_MAP_KIND = (env.get("BASE_MAP_KIND", "none") or "none").strip().lower()
BASE_MAP_URL = env.get("BASE_MAP_URL", "") or ""
BASE_MAP_ATTRIBUTION = env.get("BASE_MAP_ATTRIBUTION", "") or ""
BASE_MAP_MAX_ZOOM = int(env.get("BASE_MAP_MAX_ZOOM", "19") or "19")
if BASE_MAP_KIND not in {"none", "xyz", "style"}:
    raise ImproperlyConfigured(f"BASE_MAP_KIND must be none, xyz or style, not {BASE_MAP_KIND!r}")
if BASE_MAP_KIND == "xyz" and not all(part in BASE_MAP_URL for part in ("{z}", "{x}", "{y}")):
    raise ImproperlyConfigured("BASE_MAP_KIND=xyz needs BASE_MAP_URL with {z}, {x} and {y}")
if BASE_MAP_KIND == "style" and not BASE_MAP_URL.startswith(("https://", "http://", "/")):
    raise ImproperlyConfigured("BASE_MAP_KIND=style needs BASE_MAP_URL, the style JSON's http(s):// URL or /path")

CELERY_BROKER_URL = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_DEFAULT_QUEUE = env.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker outlives a Redis outage of any length, and a task that does not
# need Redis while it runs (an import) is not cancelled when Redis blinks.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_IMPORTS = ["gisportal.tasks"]

# --- Workers on other hosts: queues by kind, broker redelivery (issue #14) -------
# Every task is routed to a queue of its kind (gisportal/queues.py); a worker
# without -Q consumes them all. An unacknowledged message (its worker died)
# comes back from Redis after CELERY_VISIBILITY_TIMEOUT_S (Celery's default,
# an hour); the outbox sweep has usually restarted the job long before, and
# the late copy then finds nothing to claim.
from gisportal.queues import task_queues, task_routes  # noqa: E402

CELERY_TASK_QUEUES = task_queues(default=CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = task_routes(default=CELERY_TASK_DEFAULT_QUEUE)

CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": float(env.get("CELERY_VISIBILITY_TIMEOUT_S", "3600"))}
# How often a worker looks for such messages (kombu: every 10 s x 10 by default).
if env.get("CELERY_UNACKED_RESTORE_INTERVAL_S"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "unacked_restore_interval": float(env.get("CELERY_UNACKED_RESTORE_INTERVAL_S")),
        "unacked_restore_throttle": 1,
    }
# Files that every host reaches (gisportal/filestore.py): PORTAL_STORAGE=local
# (default) keeps MEDIA_ROOT and DOSSIER_FILES_ROOT as local folders;
# PORTAL_STORAGE=s3 keeps them in the bucket AWS_STORAGE_BUCKET_NAME of the
# S3-compatible store at AWS_S3_ENDPOINT_URL (empty: AWS itself), with the
# keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
from gisportal.filestore import storage_settings  # noqa: E402

PORTAL_STORAGE = (env.get("PORTAL_STORAGE", "local") or "local").strip().lower()
if PORTAL_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env.get("AWS_STORAGE_BUCKET_NAME")
    AWS_S3_ENDPOINT_URL = env.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = env.get("AWS_S3_REGION_NAME") or None
    AWS_ACCESS_KEY_ID = env.get("AWS_ACCESS_KEY_ID")
    AWS_SECRET_ACCESS_KEY = env.get("AWS_SECRET_ACCESS_KEY")
STORAGES = storage_settings(
    kind=PORTAL_STORAGE,
    bucket=env.get("AWS_STORAGE_BUCKET_NAME"),
    static_backend="django.contrib.staticfiles.storage.StaticFilesStorage",
)
# --- end of workers on other hosts ------------------------------------------------

# The shared cache (rate limits, tiles, counts): CACHE_URL, by default the
# broker's Redis one database up (REDIS_URL /0 -> /1). It fails open: while
# Redis is unreachable each process uses a memory cache (gisportal/cache.py).
CACHE_URL = env.get("CACHE_URL") or env.redis_next_database(CELERY_BROKER_URL)
CACHES = {"default": env.cache(CACHE_URL)}
# Vector tiles this process served last, kept in its memory in front of the
# shared cache (layers/registries/tiles.py, RecentTiles); 0 turns it off.
TILE_MEMORY_CACHE_BYTES = int(env.get("TILE_MEMORY_CACHE_BYTES", str(32 * 2**20)))
# A tile made here is written to the shared cache by a thread of the
# process, in batches, this long after the first of a batch
# (gisportal.cache.WrittenBehind); 0 writes it from the request's thread.
TILE_CACHE_WRITE_DELAY_SECONDS = float(env.get("TILE_CACHE_WRITE_DELAY_SECONDS", "0.02"))
# Public answers kept per data version (gisportal.api.public_answer: the
# communes list) that this process gave last, in front of the shared cache.
PUBLIC_ANSWER_MEMORY_BYTES = int(env.get("PUBLIC_ANSWER_MEMORY_BYTES", str(8 * 2**20)))

# Background work described by a row (gisportal/outbox.py). A worker stamps
# its job every OUTBOX_HEARTBEAT_S; a running job silent for
# OUTBOX_STALE_AFTER_S is returned to the queue, or failed once it has been
# started OUTBOX_MAX_ATTEMPTS times. A queued job whose message never reached
# the broker is published by the sweep; one published OUTBOX_REPUBLISH_AFTER_S
# ago and still queued (the message was lost) is published again.
OUTBOX_HEARTBEAT_S = float(env.get("OUTBOX_HEARTBEAT_S", "10"))
OUTBOX_STALE_AFTER_S = float(env.get("OUTBOX_STALE_AFTER_S", "60"))
OUTBOX_MAX_ATTEMPTS = int(env.get("OUTBOX_MAX_ATTEMPTS", "3"))
OUTBOX_REPUBLISH_AFTER_S = float(env.get("OUTBOX_REPUBLISH_AFTER_S", "300"))
OUTBOX_SWEEP_EVERY_S = float(env.get("OUTBOX_SWEEP_EVERY_S", "15"))
# A call to the outside world that failed (gateway, carrier down) is tried
# again after OUTBOX_RETRY_BASE_S, doubled per failure, at most OUTBOX_RETRY_MAX_S.
OUTBOX_RETRY_BASE_S = float(env.get("OUTBOX_RETRY_BASE_S", "30"))
OUTBOX_RETRY_MAX_S = float(env.get("OUTBOX_RETRY_MAX_S", "3600"))
# Celery beat (`celery -A gisportal beat`, or a worker with -B) sends the sweep.
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "gisportal.tasks.outbox_sweep_task",
        "schedule": OUTBOX_SWEEP_EVERY_S,
        # Sweeps that wait behind a long task are dropped, not run in a row.
        "options": {"expires": OUTBOX_SWEEP_EVERY_S},
    }
}

# Payments: fees of dossiers (payments/). A request is due at closing time
# of the PAYMENT_DUE_WORKING_DAYS-th working day after receipt; the beat task
# expires the unpaid ones every PAYMENT_EXPIRE_EVERY_S.
PAYMENT_DUE_WORKING_DAYS = int(env.get("PAYMENT_DUE_WORKING_DAYS", "3"))
PAYMENT_EXPIRE_EVERY_S = float(env.get("PAYMENT_EXPIRE_EVERY_S", "300"))
CELERY_BEAT_SCHEDULE["payments-expire"] = {
    "task": "payments.tasks.payment_requests_expire_task",
    "schedule": PAYMENT_EXPIRE_EVERY_S,
    "options": {"expires": PAYMENT_EXPIRE_EVERY_S},
}
# Calls to a gateway (refunds) and the sandbox's IPN deliveries that fail are
# retried (outbox_backoff_s) up to PAYMENT_CALL_MAX_ATTEMPTS times;
# PAYMENT_CALL_TIMEOUT_S bounds each call.
PAYMENT_CALL_MAX_ATTEMPTS = int(env.get("PAYMENT_CALL_MAX_ATTEMPTS", "8"))
PAYMENT_CALL_TIMEOUT_S = float(env.get("PAYMENT_CALL_TIMEOUT_S", "10"))
# The e-receipt series (ký hiệu biên lai) printed before the receipt number.
PAYMENT_RECEIPT_SERIES = env.get("PAYMENT_RECEIPT_SERIES", "BN-E")

# VNPay 2.1.0 merchant (payments/vnpay.py). Empty URLs mean the portal's own
# sandbox gateway (/sandbox/vnpay/...) at the address the request came to (the
# payment and return URLs) or at PUBLIC_BASE_URL (the API, called by workers).
# A real merchant sets the four values VNPay issues.
VNPAY_TMN_CODE = env.get("VNPAY_TMN_CODE", "BNSANDBX")
VNPAY_HASH_SECRET = env.get("VNPAY_HASH_SECRET", "SANDBOXSECRETBACNINHPORTAL000000")
VNPAY_PAYMENT_URL = env.get("VNPAY_PAYMENT_URL", "")
VNPAY_API_URL = env.get("VNPAY_API_URL", "")
VNPAY_RETURN_URL_BASE = env.get("VNPAY_RETURN_URL_BASE", "")
# Minutes a payment URL stays valid (vnp_ExpireDate), never past the request's due time.
VNPAY_PAYMENT_TIMEOUT_MIN = int(env.get("VNPAY_PAYMENT_TIMEOUT_MIN", "15"))

# The sandbox gateway (payments/sandbox.py): the merchant it knows and where
# it sends IPNs (empty: the origin of the merchant's vnp_ReturnUrl +
# /api/v1/payments/vnpay/ipn/). Every IPN goes out VNPAY_SANDBOX_IPN_COPIES
# times (1 + duplicates), the first after VNPAY_SANDBOX_IPN_DELAY_S, the
# copies VNPAY_SANDBOX_IPN_REPEAT_S apart; each is retried until the merchant
# answers 00 or 02. VNPAY_SANDBOX_EAGER sends the first IPN before redirecting
# the browser (no worker needed).
VNPAY_SANDBOX_ENABLED = env.get_bool("VNPAY_SANDBOX_ENABLED", True)
VNPAY_SANDBOX_TMN_CODE = env.get("VNPAY_SANDBOX_TMN_CODE", VNPAY_TMN_CODE)
VNPAY_SANDBOX_HASH_SECRET = env.get("VNPAY_SANDBOX_HASH_SECRET", VNPAY_HASH_SECRET)
VNPAY_SANDBOX_IPN_URL = env.get("VNPAY_SANDBOX_IPN_URL", "")
VNPAY_SANDBOX_IPN_COPIES = int(env.get("VNPAY_SANDBOX_IPN_COPIES", "2"))
VNPAY_SANDBOX_IPN_DELAY_S = float(env.get("VNPAY_SANDBOX_IPN_DELAY_S", "0"))
VNPAY_SANDBOX_IPN_REPEAT_S = float(env.get("VNPAY_SANDBOX_IPN_REPEAT_S", "5"))
VNPAY_SANDBOX_EAGER = env.get_bool("VNPAY_SANDBOX_EAGER", False)

# Bank transfer by VietQR (NAPAS 247): the account fees are paid into. Demo
# values (a BIDV BIN and an invented account) until the province sets its own.
VIETQR_BANK_BIN = env.get("VIETQR_BANK_BIN", "970418")
VIETQR_ACCOUNT_NUMBER = env.get("VIETQR_ACCOUNT_NUMBER", "1234567890")
VIETQR_ACCOUNT_NAME = env.get("VIETQR_ACCOUNT_NAME", "TRUNG TAM PHUC VU HANH CHINH CONG TINH BAC NINH")

# Uploads: where files wait for their import job, and the limits checked
# before any byte is parsed.
UPLOAD_MAX_BYTES = int(env.get("UPLOAD_MAX_BYTES", str(512 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The province the portal serves; user geometry is checked against it.
PORTAL_PROVINCE_CODE = env.get("PORTAL_PROVINCE_CODE", "24")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Django's own GDAL is Debian 12's 3.6, which cannot block file and network
# access from spatial references; Django uses it only for geometries and
# spatial references we create. Uploaded registry files are read by the GDAL
# 3.12 bundled with pyogrio, after content sniffing and zip checks
# (layers/registries/importing.py).
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Working hours of the one-stop desks (local time), for deadlines.
WORKDAY_START = env.get("WORKDAY_START", "07:30")
WORKDAY_END = env.get("WORKDAY_END", "17:00")

# Dossier attachments: kept outside the web root, under generated names.
DOSSIER_FILES_ROOT = env.get("DOSSIER_FILES_ROOT") or BASE_DIR / "var" / "private" / "dossiers"
DOSSIER_ATTACHMENT_MAX_BYTES = int(env.get("DOSSIER_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
DOSSIER_ATTACHMENT_MAX_COUNT = int(env.get("DOSSIER_ATTACHMENT_MAX_COUNT", "10"))
# A citizen's document store ("Giấy tờ của tôi") and drafts (dossiers/documents.py,
# dossiers/drafts.py): at most this many documents and drafts per person; a
# draft is deleted DOSSIER_DRAFT_DAYS after it was last saved (beat task or
# `manage.py drafts_expire`), and is invisible from then on.
DOSSIER_DOCUMENT_MAX_COUNT = int(env.get("DOSSIER_DOCUMENT_MAX_COUNT", "100"))
DOSSIER_DRAFT_MAX_COUNT = int(env.get("DOSSIER_DRAFT_MAX_COUNT", "50"))
DOSSIER_DRAFT_DAYS = int(env.get("DOSSIER_DRAFT_DAYS", "30"))
CELERY_BEAT_SCHEDULE["dossier-drafts-expire"] = {
    "task": "dossiers.tasks.drafts_expire_task",
    "schedule": 3600.0,
    "options": {"expires": 3600.0},
}
# The density map's quarter sums (dossiers/density_counts.py): a quarter is summed the
# day after it ends; until then, and if this never runs, its months are read instead.
CELERY_BEAT_SCHEDULE["dossier-density-quarters"] = {
    "task": "dossiers.tasks.density_quarters_close_task",
    "schedule": 86400.0,
    "options": {"expires": 86400.0},
}

# The public address printed in QR codes on slips (lookup links).
PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# SMS (phone verification codes, gisportal/accounts/sms.py): the backend
# class, as for Django's e-mail. The default is the local sandbox, which
# delivers into a table (admin; /accounts/sms-sandbox/?phone=…); a gateway is
# configuration: SMS_BACKEND=gisportal.accounts.sms.HttpJsonSmsBackend and
# SMS_HTTP_URL, SMS_HTTP_TOKEN, SMS_SENDER.
SMS_BACKEND = env.get("SMS_BACKEND", "gisportal.accounts.sms.SandboxSmsBackend")
SMS_HTTP_URL = env.get("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = env.get("SMS_HTTP_TOKEN", "")
SMS_SENDER = env.get("SMS_SENDER", "BACNINH-DVC")
SMS_HTTP_TIMEOUT_S = float(env.get("SMS_HTTP_TIMEOUT_S", "10"))
# Verification codes (gisportal/accounts/phone.py): lifetime, wrong tries
# allowed, and how often a phone, and whoever asks, may get one.
PHONE_CODE_TTL_S = int(env.get("PHONE_CODE_TTL_S", "600"))
PHONE_CODE_MAX_ATTEMPTS = int(env.get("PHONE_CODE_MAX_ATTEMPTS", "5"))
PHONE_CODE_RESEND_AFTER_S = int(env.get("PHONE_CODE_RESEND_AFTER_S", "60"))
PHONE_CODE_PER_PHONE_PER_HOUR = int(env.get("PHONE_CODE_PER_PHONE_PER_HOUR", "5"))
PHONE_CODE_PER_CLIENT_PER_HOUR = int(env.get("PHONE_CODE_PER_CLIENT_PER_HOUR", "20"))

# Feedback (phản ánh, kiến nghị; feedback/): photos kept outside the web root
# (originals private, public copies without metadata), their limits, the
# public map's coarsening of reports not yet published, nearby duplicates,
# routing when no agency matches, Open311.
FEEDBACK_FILES_ROOT = env.get("FEEDBACK_FILES_ROOT") or BASE_DIR / "var" / "private" / "feedback"
FEEDBACK_PHOTO_MAX_COUNT = int(env.get("FEEDBACK_PHOTO_MAX_COUNT", "5"))
FEEDBACK_PHOTO_MAX_BYTES = int(env.get("FEEDBACK_PHOTO_MAX_BYTES", str(8 * 1024 * 1024)))
FEEDBACK_PHOTO_MAX_PIXELS = int(env.get("FEEDBACK_PHOTO_MAX_PIXELS", "40000000"))
FEEDBACK_PHOTO_PUBLIC_MAX_PX = int(env.get("FEEDBACK_PHOTO_PUBLIC_MAX_PX", "1600"))
FEEDBACK_PROVINCE_MARGIN_M = float(env.get("FEEDBACK_PROVINCE_MARGIN_M", "1000"))
FEEDBACK_PUBLIC_GRID_DEG = float(env.get("FEEDBACK_PUBLIC_GRID_DEG", "0.001"))
FEEDBACK_NEARBY_M = float(env.get("FEEDBACK_NEARBY_M", "50"))
FEEDBACK_NEARBY_DAYS = int(env.get("FEEDBACK_NEARBY_DAYS", "30"))
FEEDBACK_FALLBACK_AGENCY = env.get("FEEDBACK_FALLBACK_AGENCY", "ttpvhcc")
# Open311 GeoReport v2 (/open311/v2/): the jurisdiction_id a client may send.
OPEN311_JURISDICTION_ID = env.get("OPEN311_JURISDICTION_ID", "bacninh.gov.vn")

# --- Messages to the outside world (gisportal/delivery.py) -----------------------------
# An e-mail or a Zalo message that fails is tried again after the outbox's backoff
# (OUTBOX_RETRY_BASE_S doubled per failure, at most OUTBOX_RETRY_MAX_S) and given up
# (visible in the admin, with its last error) after DELIVERY_MAX_ATTEMPTS starts.
DELIVERY_MAX_ATTEMPTS = int(env.get("DELIVERY_MAX_ATTEMPTS", "6"))

# --- E-mail (notifications) ------------------------------------------------------------
# SMTP when EMAIL_HOST is set; otherwise each message is written as a file under
# EMAIL_FILE_PATH (var/mail), so that nothing leaves a development machine.
EMAIL_HOST = env.get("EMAIL_HOST", "")
EMAIL_PORT = int(env.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.get_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = float(env.get("EMAIL_TIMEOUT", "10"))
EMAIL_BACKEND = env.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = env.get("EMAIL_FILE_PATH") or BASE_DIR / "var" / "mail"
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "Cổng dịch vụ công Bắc Ninh <thongbao@dichvucong.localhost>")

# --- Zalo Official Account (chatbot/) --------------------------------------------------
# Defaults: the project's own sandbox OA (chatbot/sandbox, /sandbox/zalo/), so the
# whole chat flow runs offline. For the real OA set ZALO_APP_ID, ZALO_APP_SECRET_KEY,
# ZALO_OA_ID, ZALO_OA_SECRET_KEY, ZALO_REFRESH_TOKEN (and ZALO_ACCESS_TOKEN if you
# have a fresh one), ZALO_API_BASE_URL=https://openapi.zalo.me and
# ZALO_OAUTH_BASE_URL=https://oauth.zaloapp.com. Tokens refreshed later are kept in
# the database (refresh tokens are single-use).
ZALO_SANDBOX_ENABLED = env.get_bool("ZALO_SANDBOX_ENABLED", True)
ZALO_APP_ID = env.get("ZALO_APP_ID", "sandbox-app")
ZALO_APP_SECRET_KEY = env.get("ZALO_APP_SECRET_KEY", "sandbox-app-secret")
ZALO_OA_ID = env.get("ZALO_OA_ID", "sandbox-oa")
# Signs the webhook (X-ZEvent-Signature); empty: the webhook refuses everything (503).
ZALO_OA_SECRET_KEY = env.get("ZALO_OA_SECRET_KEY", "sandbox-oa-secret")
ZALO_API_BASE_URL = env.get("ZALO_API_BASE_URL", f"{PUBLIC_BASE_URL}/sandbox/zalo/openapi")
ZALO_OAUTH_BASE_URL = env.get("ZALO_OAUTH_BASE_URL", f"{PUBLIC_BASE_URL}/sandbox/zalo/oauth")
ZALO_ACCESS_TOKEN = env.get("ZALO_ACCESS_TOKEN", "")
ZALO_REFRESH_TOKEN = env.get("ZALO_REFRESH_TOKEN", "sandbox-initial-refresh-token")
ZALO_HTTP_TIMEOUT_S = float(env.get("ZALO_HTTP_TIMEOUT_S", "10"))
# A webhook whose timestamp is further than this from now is refused (a replay window).
ZALO_WEBHOOK_MAX_AGE_S = float(env.get("ZALO_WEBHOOK_MAX_AGE_S", "300"))
# The sandbox OA: how long after a user's last message the OA may answer them
# (Zalo: 7 days, error -230 after), how long its access tokens live (Zalo: 25 h),
# and where it sends its signed events (default: /zalo/webhook/ on its own host).
ZALO_SANDBOX_REPLY_WINDOW_S = float(env.get("ZALO_SANDBOX_REPLY_WINDOW_S", str(7 * 24 * 3600)))
ZALO_SANDBOX_TOKEN_TTL_S = float(env.get("ZALO_SANDBOX_TOKEN_TTL_S", "90000"))
ZALO_SANDBOX_WEBHOOK_URL = env.get("ZALO_SANDBOX_WEBHOOK_URL", "")


def _derived_secret(purpose: str) -> str:
    """A default secret of an integration, derived from the environment's
    DJANGO_SECRET_KEY: unpublished wherever the key is, and the same in every
    process of one deployment (the portal and its sandbox agree)."""
    key = (env.get("DJANGO_SECRET_KEY") or "").encode()
    return hmac.new(key, purpose.encode(), hashlib.sha256).hexdigest()[:40]


# Vietnam Post partner API (postal/vnpost.py), called by the Celery worker
# through the outbox. Defaults: the sandbox carrier this portal serves at
# /sandbox/vnpost/ (postal/sandbox), so everything runs offline. For the real
# carrier set VNPOST_BASE_URL, VNPOST_CUSTOMER_CODE, VNPOST_API_KEY and
# VNPOST_CALLBACK_SECRET, and VNPOST_SANDBOX_ENABLED=false.
VNPOST_BASE_URL = env.get("VNPOST_BASE_URL") or PUBLIC_BASE_URL.rstrip("/") + "/sandbox/vnpost/api/v1"
VNPOST_CUSTOMER_CODE = env.get("VNPOST_CUSTOMER_CODE", "BNPORTAL")
VNPOST_API_KEY = env.get("VNPOST_API_KEY") or _derived_secret("vnpost-sandbox-api-key")
# Status callbacks: where the carrier sends them (also sent with each order as
# CallbackUrl), the shared secret of their signature, and how far the signed
# timestamp may be from our clock.
VNPOST_CALLBACK_URL = env.get("VNPOST_CALLBACK_URL") or PUBLIC_BASE_URL.rstrip("/") + "/api/v1/postal/callbacks/vnpost/"
VNPOST_CALLBACK_SECRET = env.get("VNPOST_CALLBACK_SECRET") or _derived_secret("vnpost-sandbox-callback")
VNPOST_CALLBACK_MAX_SKEW_S = int(env.get("VNPOST_CALLBACK_MAX_SKEW_S", "300"))
VNPOST_TIMEOUT_S = float(env.get("VNPOST_TIMEOUT_S", "10"))
# A carrier that is down or slow: the order is tried again after
# OUTBOX_RETRY_BASE_S, doubling up to OUTBOX_RETRY_MAX_S between tries, without end.
# A dossier in its envelope, as declared to the carrier.
VNPOST_PARCEL_WEIGHT_G = int(env.get("VNPOST_PARCEL_WEIGHT_G", "300"))

# The sandbox carrier (postal/sandbox): its own account, and how fast parcels
# move (every VNPOST_SANDBOX_TICK_S, Celery beat moves each parcel whose
# VNPOST_SANDBOX_STEP_S have passed one step on); the share of deliveries that
# fail at the first attempt, and of status callbacks sent twice or late.
VNPOST_SANDBOX_ENABLED = env.get_bool("VNPOST_SANDBOX_ENABLED", True)
VNPOST_SANDBOX_CUSTOMER_CODE = env.get("VNPOST_SANDBOX_CUSTOMER_CODE", "BNPORTAL")
VNPOST_SANDBOX_API_KEY = env.get("VNPOST_SANDBOX_API_KEY") or _derived_secret("vnpost-sandbox-api-key")
VNPOST_SANDBOX_CALLBACK_SECRET = env.get("VNPOST_SANDBOX_CALLBACK_SECRET") or _derived_secret("vnpost-sandbox-callback")
VNPOST_SANDBOX_TICK_S = float(env.get("VNPOST_SANDBOX_TICK_S", "30"))
VNPOST_SANDBOX_STEP_S = float(env.get("VNPOST_SANDBOX_STEP_S", "600"))
VNPOST_SANDBOX_FAILURE_RATE = float(env.get("VNPOST_SANDBOX_FAILURE_RATE", "0.1"))
VNPOST_SANDBOX_DUPLICATE_RATE = float(env.get("VNPOST_SANDBOX_DUPLICATE_RATE", "0.05"))
VNPOST_SANDBOX_LATE_RATE = float(env.get("VNPOST_SANDBOX_LATE_RATE", "0.05"))
VNPOST_SANDBOX_CALLBACK_TIMEOUT_S = float(env.get("VNPOST_SANDBOX_CALLBACK_TIMEOUT_S", "5"))
VNPOST_SANDBOX_CALLBACK_MAX_TRIES = int(env.get("VNPOST_SANDBOX_CALLBACK_MAX_TRIES", "8"))
CELERY_BEAT_SCHEDULE["vnpost-sandbox-tick"] = {
    "task": "postal.sandbox.tasks.sandbox_tick_task",
    "schedule": VNPOST_SANDBOX_TICK_S,
    "options": {"expires": VNPOST_SANDBOX_TICK_S},
}

# Planning: a service point is "overloaded" when it receives more dossiers per
# counter per working day than this norm. No national norm is published; the
# default is a stated assumption: about 15 minutes at the counter per dossier
# received (check the documents, enter the dossier, print the receipt slip)
# over an 8-hour working day = 32. Set the province's own figure here.
COUNTER_CAPACITY_PER_DAY = float(env.get("COUNTER_CAPACITY_PER_DAY", "32"))

# --- Citus shards by province (issue 14) -----------------------------------------
# "citus": the database is a Citus coordinator; after `migrate`, run
# `manage.py citus_distribute` (README, "Citus shards by province"). Empty:
# one PostgreSQL, as always.
DATABASE_DISTRIBUTION = (env.get("DATABASE_DISTRIBUTION", "") or "").strip().lower()
# One connection per worker in a transaction: the dossier tables have
# foreign keys to reference tables, and a transaction that reads or writes a
# dossier by id (every shard) then writes a reference table (a payment
# request) would otherwise fail. Behind a transaction-mode pooler there are no
# startup options (DATABASE_POOLER): it goes on the role then, as jit (README).
if DATABASE_DISTRIBUTION == "citus" and "options" in DATABASES["default"]["OPTIONS"]:
    DATABASES["default"]["OPTIONS"]["options"] += " -c citus.multi_shard_modify_mode=sequential"
