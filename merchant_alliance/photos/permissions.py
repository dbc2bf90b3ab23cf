"""Who may see a photo or a document (registered by photos.init_app): a shop's go with the shop; the alliance's
own with its register; public photos (a hazard report's, a certificate's) with everyone."""

from __future__ import annotations

from merchant_alliance.accounts.models import User
from merchant_alliance.authz import can
from merchant_alliance.photos.models import Document, Photo

RULES = {
    (Photo, "view"): lambda u, p: (
        p.public or (not p.held and (can(u, "view", p.shop) if p.shop is not None
                                     else can(u, "view_register", p.alliance)))
    ),
    (Document, "view"): lambda u, d: (
        can(u, "view", d.shop) if d.shop is not None else can(u, "view_register", d.alliance)
    ),
}
VISIBLE_WHEN = {Photo: "view", Document: "view"}


def can_view_photo(user: User | None, photo: Photo) -> bool:
    """Public photos are for everyone, anonymous visitors included; any other follows the rules above."""
    return photo.public or can(user, "view", photo)
