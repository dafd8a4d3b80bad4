"""The OA's access token: read for every call, refreshed when it is about to
expire or Zalo refuses it. Zalo's refresh tokens are single-use, so each
refresh runs under a lock on the token row and commits at once, outside any
send (gisportal.delivery's `prepare` and `repair`): a send that fails later
must not roll the new pair back."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .client import zalo_oauth_refresh
from .models import ZaloToken

logger = logging.getLogger(__name__)

# Refresh a token this long before it expires.
REFRESH_MARGIN_S = 300


def _row(*, lock: bool = False) -> ZaloToken:
    """The OA's token row, created from the settings the first time."""
    tokens = ZaloToken.objects.select_for_update() if lock else ZaloToken.objects
    row, _ = tokens.get_or_create(
        oa_id=settings.ZALO_OA_ID,
        defaults={"access_token": settings.ZALO_ACCESS_TOKEN, "refresh_token": settings.ZALO_REFRESH_TOKEN},
    )
    return row


def zalo_access_token() -> str:
    return _row().access_token


def _needs_refresh(row: ZaloToken) -> bool:
    if not row.access_token:
        return True
    margin = dt.timedelta(seconds=REFRESH_MARGIN_S)
    return row.expires_at is not None and row.expires_at - margin <= timezone.now()


def zalo_token_ready() -> str:
    """An access token that is not about to expire (refreshed if it is)."""
    row = _row()
    if _needs_refresh(row):
        return zalo_token_refresh()
    return row.access_token


def zalo_token_refresh(*, rejected: str | None = None) -> str:
    """Exchanges the refresh token for a new pair and stores it. With
    `rejected` (the token Zalo refused), a pair another worker already
    refreshed meanwhile is used as it is. Raises the client's errors."""
    with transaction.atomic():
        row = _row(lock=True)
        if rejected is not None and row.access_token and row.access_token != rejected:
            return row.access_token
        if rejected is None and not _needs_refresh(row):
            return row.access_token
        answer = zalo_oauth_refresh(row.refresh_token)
        now = timezone.now()
        row.access_token = answer["access_token"]
        row.refresh_token = answer["refresh_token"]
        row.expires_at = now + dt.timedelta(seconds=int(answer.get("expires_in") or 0))
        row.refreshed_at = now
        row.save(update_fields=["access_token", "refresh_token", "expires_at", "refreshed_at"])
    logger.info("zalo: access token refreshed, valid until %s", row.expires_at)
    return row.access_token
