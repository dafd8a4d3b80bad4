from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "insecure-test-key"
ALLOWED_HOSTS = ["*"]
# Tests hammer the API from one address; the throttle test lowers this.
PUBLIC_LOOKUP_RATE = env.get("PUBLIC_LOOKUP_RATE", "100000/min")  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files straight from the finders, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
