"""Reads of the Zalo channel."""

from .models import ChatLink, ChatUser


def dossier_followers(*, dossier_id: int) -> list[ChatUser]:
    """Followers (still following the OA) who linked the dossier."""
    links = ChatLink.objects.filter(dossier_id=dossier_id, chat_user__followed=True).select_related("chat_user")
    return [link.chat_user for link in links.order_by("linked_at", "id")]


def dossiers_linked_by(chat_user: ChatUser) -> list[int]:
    return list(ChatLink.objects.filter(chat_user=chat_user).order_by("linked_at").values_list("dossier_id", flat=True))
