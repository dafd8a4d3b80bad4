"""What the dossier core tells the rest of the portal.

Every `DossierEvent` row the dossier services write (a transition, a
hand-over, an apology, a payment or shipment step recorded by another app)
is announced here as a `DossierChanged`, inside the transaction that wrote
it. Apps that act on dossier changes (payments, postal, notifications, the
chat channel) subscribe in their `AppConfig.ready()`; the dossier core never
imports them (DESIGN.md: dependencies point one way).

A subscriber runs inside the writer's transaction, so what it writes (a
refund to make, a notification to send) commits or rolls back with the
change itself: nothing is announced for a change that did not happen, and
nothing is lost for one that did. It must not talk to the outside world
itself: anything slow or fallible goes through the outbox
(`gisportal.outbox`), which sends after commit and retries. An exception in
a subscriber rolls the whole change back, as any other failed write would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from .models import DossierEvent


@dataclass(frozen=True)
class DossierChanged:
    """One event row, as subscribers see it (ids, not model instances, so a
    subscriber reads what it needs through the dossier selectors)."""

    event_id: int
    dossier_id: int
    code: str
    action: str
    from_status: str
    to_status: str
    at: dt.datetime
    actor_id: int | None
    note: str

    @property
    def status_changed(self) -> bool:
        return self.from_status != self.to_status

    @classmethod
    def of(cls, event: DossierEvent, *, code: str) -> DossierChanged:
        return cls(
            event_id=event.pk,
            dossier_id=event.dossier_id,
            code=code,
            action=event.action,
            from_status=event.from_status,
            to_status=event.to_status,
            at=event.at,
            actor_id=event.actor_id,
            note=event.note,
        )


Subscriber = Callable[[DossierChanged], None]
_subscribers: list[Subscriber] = []


def dossier_changes_subscribe(handler: Subscriber) -> Subscriber:
    """Registers `handler` (once, however often `ready()` runs); usable as a
    decorator."""
    if handler not in _subscribers:
        _subscribers.append(handler)
    return handler


def dossier_changes_unsubscribe(handler: Subscriber) -> None:
    if handler in _subscribers:
        _subscribers.remove(handler)


def dossier_changed_emit(change: DossierChanged) -> None:
    """Called by the dossier services right after they write the event row."""
    for handler in tuple(_subscribers):
        handler(change)
