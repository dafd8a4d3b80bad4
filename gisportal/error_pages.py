"""Django's own error answers (no URL matched, a bad request refused before
any view, a CSRF failure, a crash): JSON in the portal's error shape on the
API paths, whose clients parse JSON; Django's pages everywhere else."""

from django.http import JsonResponse
from django.views import defaults

from gisportal.messages import message
from gisportal.middleware import API_PREFIXES


def _json(request, status: int, vi: str, en: str):
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"detail": message(vi, en)}, status=status, json_dumps_params={"ensure_ascii": False})
    return None


def bad_request(request, exception=None):
    return _json(request, 400, "Yêu cầu không hợp lệ.", "Bad request.") or defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    return _json(request, 403, "Không có quyền.", "Forbidden.") or defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    return _json(request, 404, "Không tìm thấy.", "Not found.") or defaults.page_not_found(request, exception)


def server_error(request):
    return _json(request, 500, "Lỗi máy chủ.", "Server error.") or defaults.server_error(request)
