"""The webhook Zalo calls: verified, stored and acknowledged at once; the
work is done by a worker (chatbot.webhook, chatbot.services)."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .signature import HEADER
from .webhook import WebhookRefused, zalo_webhook_accept


@csrf_exempt  # Zalo signs its calls (X-ZEvent-Signature); there is no session.
@require_POST
def zalo_webhook(request):
    try:
        event = zalo_webhook_accept(body=request.body, signature=request.headers.get(HEADER), now=timezone.now())
    except WebhookRefused as refusal:
        return JsonResponse({"detail": refusal.detail}, status=refusal.status)
    return JsonResponse({"error": 0, "message": "received", "event": event.pk})
