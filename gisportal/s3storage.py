"""The S3 backend of PORTAL_STORAGE=s3 (gisportal/filestore.py), in a module of
its own so that boto3 is imported only by processes that use it."""

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class PortalS3Storage(S3Storage):
    """django-storages' S3 backend whose file URLs are the portal's own
    (MEDIA_URL + name: procedure forms are served by the portal after its
    checks), never links into the bucket."""

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        return settings.MEDIA_URL + filepath_to_uri(name)
