from .base import *  # noqa: F403

DEBUG = True
SECRET_KEY = env.get("DJANGO_SECRET_KEY", "insecure-dev-key-not-for-production")  # noqa: F405
ALLOWED_HOSTS = ["*"]

# Serve static files straight from the finders, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
