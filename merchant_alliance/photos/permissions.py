"""Who may see a photo (registered by photos.init_app): a shop's photos go with the shop; the alliance's
own with its register; public ones (a hazard report's, a certificate's) with everyone."""

from __future__ import annotations

from merchant_alliance.accounts.models import User
from merchant_alliance.authz import can
from merchant_alliance.photos.models import Photo

RULES = {
    (Photo, "view"): lambda u, p: (
        p.public or (can(u, "view", p.shop) if p.shop is not None else can(u, "view_register", p.alliance))
    ),
}
VISIBLE_WHEN = {Photo: "view"}


def can_view_photo(user: User | None, photo: Photo) -> bool:
    """Public photos are for everyone, anonymous visitors included; any other follows the rules above."""
    return photo.public or can(user, "view", photo)
