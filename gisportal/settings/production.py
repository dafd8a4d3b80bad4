from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from .base import *  # noqa: F403

DEBUG = False
if not SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in the environment")

if not CACHE_URL:  # noqa: F405
    # Rate limits and tile caches must be shared by every web process; the
    # default (REDIS_URL one database up) exists only when the broker is Redis.
    raise ImproperlyConfigured("CACHE_URL (redis://...) must be set when REDIS_URL is not a Redis URL")

if env.get("NUM_PROXIES"):  # noqa: F405
    # NUM_PROXIES counted hops in X-Forwarded-For, which any client can
    # write; left unread, every client would look like the proxy and share
    # one rate limit and one sign-in lockout.
    raise ImproperlyConfigured(
        "NUM_PROXIES is no longer read: set TRUSTED_PROXIES to the proxies' addresses (e.g. 127.0.0.1,::1 "
        "for nginx on this host), then unset NUM_PROXIES"
    )

# The sandbox gateway signs IPNs that settle fees: off on a public server
# unless an operator turns it on on purpose (a training portal).
VNPAY_SANDBOX_ENABLED = env.get_bool("VNPAY_SANDBOX_ENABLED", False)  # noqa: F405
# The same for the sandbox carrier, whose callbacks return results delivered.
VNPOST_SANDBOX_ENABLED = env.get_bool("VNPOST_SANDBOX_ENABLED", False)  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.get_bool("DJANGO_SECURE_SSL_REDIRECT", True)  # noqa: F405
SECURE_HSTS_SECONDS = int(env.get("DJANGO_HSTS_SECONDS", "31536000"))  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.get_list("DJANGO_CSRF_TRUSTED_ORIGINS")  # noqa: F405
STORAGES = {
    **STORAGES,  # noqa: F405 (the files' stores of base, PORTAL_STORAGE)
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Source maps (23 MB of the API docs' 45 MB) are fetched only by a developer's
# browser tools: collected and hashed, but not compressed twice over, which
# halves the time collectstatic takes on a deploy.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
LOGGING["root"]["level"] = "INFO"  # noqa: F405

# The Zalo sandbox OA is for development and integrators: off unless asked for,
# and without it no default secret or sandbox address is trusted. Without
# ZALO_OA_SECRET_KEY the webhook answers 503 and nothing is sent to Zalo.
ZALO_SANDBOX_ENABLED = env.get_bool("ZALO_SANDBOX_ENABLED", False)  # noqa: F405
if not ZALO_SANDBOX_ENABLED:
    ZALO_OA_SECRET_KEY = env.get("ZALO_OA_SECRET_KEY", "")  # noqa: F405
    ZALO_APP_SECRET_KEY = env.get("ZALO_APP_SECRET_KEY", "")  # noqa: F405
    ZALO_REFRESH_TOKEN = env.get("ZALO_REFRESH_TOKEN", "")  # noqa: F405
    ZALO_API_BASE_URL = env.get("ZALO_API_BASE_URL", "https://openapi.zalo.me")  # noqa: F405
    ZALO_OAUTH_BASE_URL = env.get("ZALO_OAUTH_BASE_URL", "https://oauth.zaloapp.com")  # noqa: F405
