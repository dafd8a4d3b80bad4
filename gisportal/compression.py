"""Compression of the answers that hold no secret (see docs/decisions.md,
"Compress only what is the same for everyone").

BREACH: when a compressed answer holds a secret (a CSRF token, a session's
personal data, an API token) next to text an attacker can choose (a query
parameter echoed back), the compressed size tells a cross-site attacker,
guess by guess, how much of the secret they got right. So gzip applies only
to answers that read no credentials and hand out no token:

- the request carried no `Authorization` header (API tokens);
- the view did not read the session (who is signed in, messages, the cart
  of a submit form), or the visitor sent no session cookie: an answer made
  without a session is the same for every visitor, so it holds no one's secret;
- no CSRF token was asked for while making it (forms, the language switch
  on every page);
- it sets no cookie.

That covers what is big and public: administrative units and their
boundaries (the commune GeoJSON is 282 KB), service points, the procedure
catalogue API, OGC API Features, the OpenAPI schema; pages with forms and
anything personal stay uncompressed. Static files are compressed ahead of
time by whitenoise (CompressedManifestStaticFilesStorage) and hold no secret.
Django's GZipMiddleware adds its own BREACH mitigation (random padding of
the gzip header) on top.
"""

from django.conf import settings
from django.middleware.gzip import GZipMiddleware


def holds_no_secret(request, response) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    if request.META.get("HTTP_AUTHORIZATION"):
        return False
    # A session read for a visitor who sent no session cookie is empty (the
    # OGC API asks who is there to know which layers to list): the answer is
    # the one every anonymous visitor gets.
    session = getattr(request, "session", None)
    if session is not None and session.accessed and request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # get_token() was called: a token is in the body
    return not response.cookies


class PublicGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware for answers that `holds_no_secret`."""

    def process_response(self, request, response):
        if not holds_no_secret(request, response):
            return response
        return super().process_response(request, response)
