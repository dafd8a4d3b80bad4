"""The unread count beside "Inbox" in the menu of every page."""

from .selectors import inbox_unread_count


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that do not render the menu (PDF slips, JSON) never count.
    return {"inbox_unread": lambda: inbox_unread_count(user)}
