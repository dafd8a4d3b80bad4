from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers


class VietnameseFirstLocaleMiddleware:
    """The portal speaks Vietnamese unless the visitor chose otherwise.

    Django's LocaleMiddleware follows the browser's Accept-Language, so a
    citizen whose phone is set to English would get English without asking.
    Here only an explicit choice counts: the language cookie set by the
    switch (`/i18n/setlang/`) or a `?lang=` parameter on a shared link.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.GET.get("lang") or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response
