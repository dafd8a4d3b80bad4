"""The sandbox OA at /sandbox/zalo/: Zalo's API (openapi/..., oauth/...) for
the portal's client, and pages for integrators (administrators) to watch
conversations and act as a follower."""

from __future__ import annotations

import json
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gisportal.accounts.selectors import actor_for

from .models import SandboxFollower, SandboxMessage, SandboxSettings
from .services import (
    sandbox_act,
    sandbox_conversation,
    sandbox_follower_create,
    sandbox_refresh,
    sandbox_send,
    sandbox_slow_down,
    sandbox_token_pair,
)

UNAVAILABLE = {"error": -32, "message": "Service temporarily unavailable (sandbox outage)"}


def _api(view):
    """Zalo's API conventions: HTTP 200 with an error code in the body; 503
    during a simulated outage."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if SandboxSettings.current().outage:
            return JsonResponse(UNAVAILABLE, status=503)
        answer = view(request, *args, **kwargs)
        if isinstance(answer, HttpResponse):
            return answer  # a wrong method
        sandbox_slow_down()
        return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})

    return wrapped


def _access_token(request) -> str | None:
    """Zalo's `access_token` header. Django's runserver and nginx drop
    header names with underscores, so it is read dash-spelled (what the
    portal's client also sends; Granian files both spellings under one
    name), or as Zalo's older `?access_token=`."""
    return request.headers.get("Access-Token") or request.GET.get("access_token")


@_api
@require_POST
def message_cs(request):
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    return sandbox_send(access_token=_access_token(request), body=body)


@_api
@require_GET
def conversation(request):
    return sandbox_conversation(access_token=_access_token(request), query=request.GET.get("data"))


@_api
@require_POST
def oauth_access_token(request):
    return sandbox_refresh(
        secret_key=request.headers.get("Secret-Key", ""),  # `secret_key`, see _access_token
        app_id=request.POST.get("app_id", ""),
        grant_type=request.POST.get("grant_type", ""),
        refresh_token=request.POST.get("refresh_token", ""),
    )


# --- integrator pages -----------------------------------------------------------------


def integrator_only(view):
    """Administrators only: the pages post signed events as any follower."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not actor_for(request.user).is_administrator:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _webhook_url(request) -> str:
    return settings.ZALO_SANDBOX_WEBHOOK_URL or request.build_absolute_uri(reverse("zalo-webhook"))


@integrator_only
def home(request):
    context = {
        "followers": SandboxFollower.objects.all()[:200],
        "settings_row": SandboxSettings.current(),
        "webhook_url": _webhook_url(request),
        "app_id": settings.ZALO_APP_ID,
        "oa_id": settings.ZALO_OA_ID,
        "api_base": request.build_absolute_uri(reverse("zalo-sandbox-home")) + "openapi",
        "oauth_base": request.build_absolute_uri(reverse("zalo-sandbox-home")) + "oauth",
        "new_pair": request.session.pop("zalo_sandbox_pair", None),
    }
    return render(request, "zalo_sandbox/home.html", context)


def _number(raw: str | None, *, low: float, high: float) -> float | None:
    try:
        value = float(raw or "")
    except ValueError:
        return None
    return value if low <= value <= high else None


@integrator_only
@require_POST
def settings_update(request):
    row = SandboxSettings.current()
    window = _number(request.POST.get("reply_window_s"), low=0, high=365 * 86400)
    ttl = _number(request.POST.get("token_ttl_s"), low=1, high=365 * 86400)
    latency = _number(request.POST.get("latency_s"), low=0, high=120)
    if window is None or ttl is None or latency is None:
        return render(
            request,
            "zalo_sandbox/home.html",
            {"settings_row": row, "followers": SandboxFollower.objects.all()[:200], "error": True},
            status=400,
        )
    row.reply_window_s, row.token_ttl_s, row.latency_s = window, ttl, latency
    row.outage = request.POST.get("outage") == "on"
    row.save()
    return redirect("zalo-sandbox-home")


@integrator_only
@require_POST
def token_issue(request):
    """A fresh token pair, as the OA's administrator gets from Zalo's tools."""
    request.session["zalo_sandbox_pair"] = sandbox_token_pair()
    return redirect("zalo-sandbox-home")


@integrator_only
@require_POST
def follower_create(request):
    name = (request.POST.get("display_name") or "").strip()[:100] or _("Sandbox follower")
    with transaction.atomic():
        follower = sandbox_follower_create(display_name=name)
        sandbox_act(follower=follower, kind="follow", webhook_url=_webhook_url(request))
    return redirect("zalo-sandbox-follower", user_id=follower.user_id)


@integrator_only
def follower_page(request, user_id: str):
    follower = get_object_or_404(SandboxFollower, user_id=user_id)
    page = Paginator(SandboxMessage.objects.filter(follower=follower).order_by("-at", "-id"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "zalo_sandbox/follower.html", {"follower": follower, "page": page})


@integrator_only
@require_POST
def follower_act(request, user_id: str):
    follower = get_object_or_404(SandboxFollower, user_id=user_id)
    kind = request.POST.get("kind", "")
    fields = {}
    if kind == "text":
        fields["text"] = (request.POST.get("text") or "").strip()[:2000]
        valid = bool(fields["text"])
    elif kind == "location":
        fields["lat"] = _number(request.POST.get("lat"), low=-90, high=90)
        fields["lon"] = _number(request.POST.get("lon"), low=-180, high=180)
        valid = fields["lat"] is not None and fields["lon"] is not None
    elif kind == "image":
        fields["image_url"] = (request.POST.get("image_url") or "").strip()[:500]
        valid = fields["image_url"].startswith(("http://", "https://"))
    else:
        valid = kind in ("follow", "unfollow")
    if not valid:
        page = Paginator(SandboxMessage.objects.filter(follower=follower), 50).get_page(1)
        context = {"follower": follower, "page": page, "error": kind or "kind"}
        return render(request, "zalo_sandbox/follower.html", context, status=400)
    with transaction.atomic():
        sandbox_act(follower=follower, kind=kind, webhook_url=_webhook_url(request), **fields)
    return redirect("zalo-sandbox-follower", user_id=follower.user_id)
