"""Who may do what with hazard reports (registered by reports.init_app): the street's officers see and triage
its reports; the public sees only what the public pages show (nothing private), and a reporter follows their
own report by its private link."""

from __future__ import annotations

from sqlalchemy import exists, select

from merchant_alliance.accounts.models import Street, User
from merchant_alliance.authz import officer_of
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports.models import HazardReport, report_photos


def officer_sees_report_photo(user: User, photo: Photo) -> bool:
    """A report's photo, for the officers of its street to triage before it is published: only a photo some
    report entry holds (never the alliance's other photos, such as its fund's receipts)."""
    return officer_of(user, photo.alliance.street_id) and bool(
        db.session.scalar(select(exists().where(report_photos.c.photo_id == photo.id))))


RULES = {
    (HazardReport, "view"): lambda u, r: officer_of(u, r.street_id),
    (HazardReport, "triage"): lambda u, r: officer_of(u, r.street_id),
    (Street, "triage_reports"): lambda u, s: officer_of(u, s.id),
    (Photo, "view"): officer_sees_report_photo,
}
VISIBLE_WHEN = {HazardReport: "view"}
