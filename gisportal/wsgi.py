import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisportal.settings.dev")
django_application = get_wsgi_application()

from gisportal.fastpath import LeanPath  # noqa: E402 (needs the settings, set up above)

# The hottest public reads in front of Django, the rest through it (gisportal/fastpath.py).
application = LeanPath(django_application)
