"""The inbox page and the notification settings page of a signed-in citizen."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .models import Language
from .selectors import inbox_of, notification_preferences_of
from .services import notification_preferences_update, notifications_mark_read

PAGE_SIZE = 20


@login_required
def inbox_page(request):
    rows = inbox_of(request.user).select_related("dossier")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    unread = rows.filter(read_at__isnull=True).count()
    return render(request, "notifications/inbox.html", {"page": page, "unread": unread})


@login_required
@require_POST
def inbox_read(request):
    """Marks one notification (`id`) or all of them read; other people's ids change nothing."""
    raw = request.POST.get("id", "")
    ids = [int(raw)] if raw.isdecimal() else None
    notifications_mark_read(user=request.user, ids=ids)
    return redirect("inbox")


@login_required
def settings_page(request):
    preference = notification_preferences_of(request.user)
    if request.method == "POST":
        language = request.POST.get("language")
        if language not in Language.values:
            return render(
                request,
                "notifications/settings.html",
                {"preference": preference, "language_choices": Language.choices, "error": True},
                status=400,
            )
        notification_preferences_update(
            user=request.user,
            inbox=request.POST.get("inbox") == "on",
            email=request.POST.get("email") == "on",
            zalo=request.POST.get("zalo") == "on",
            language=language,
        )
        messages.success(request, _("Your notification settings are saved."))
        return redirect("notification-settings")
    return render(
        request, "notifications/settings.html", {"preference": preference, "language_choices": Language.choices}
    )
