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
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "gisportal.accounts",
    "layers",
    "dossiers",
    "maps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # NUL and other characters PostgreSQL cannot store: a 400 before any view.
    "gisportal.middleware.UnstorableInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gisportal.middleware.VietnameseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

DATABASES = {"default": env.database("postgis://gisportal:gisportal@127.0.0.1:5432/gisportal")}
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
MEDIA_ROOT = BASE_DIR / "var" / "media"  # public files only (procedure forms)
MEDIA_URL = "/media/"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "gisportal.schema.PortalAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's three, with the multipart one refusing text PostgreSQL cannot store.
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "gisportal.unstorable.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "gisportal.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["gisportal.throttling.PublicLookupThrottle"],
    "NUM_PROXIES": int(env.get("NUM_PROXIES", "0")) or None,
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

# Public look-ups (nearest, lists, dossier lookup) are limited per client IP.
# Behind a proxy, set NUM_PROXIES so the client address is the real one.
PUBLIC_LOOKUP_RATE = env.get("PUBLIC_LOOKUP_RATE", "300/min")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.get("CACHE_URL")}
        if env.get("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

CELERY_BROKER_URL = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_DEFAULT_QUEUE = env.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

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

# The public address printed in QR codes on slips (lookup links).
PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
