"""Who may do what in the works (registered by works.init_app).

The alliance's leads keep the contractors' register, invite and choose quotes, accept milestones (or the shop's
owner, as the alliance's rules say) and approve changes. A contractor's people see and change only their own
quotes and orders, each showing the approved design and the permit's conditions (not the project's page, whose
timeline and budget would tell a bidder what the others quoted). The shop's owner sees the works on its own shop's
projects; the street office sees every order on its street. Anyone else gets what a made-up id gets.
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import exists, select

from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.authz import alliance_staff, can, lead_of, officer_of, owns_shop
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Document, Photo
from merchant_alliance.projects.models import Project
from merchant_alliance.works.models import (
    Acceptor,
    ChangeOrder,
    Contractor,
    Milestone,
    OrderPayment,
    PunchItem,
    Quote,
    SiteLogEntry,
    WorkOrder,
    WorksSettings,
    contractor_users,
)


def contractor_ids(user: User) -> frozenset[int]:
    """The contractors whose people this user is (asked once per request)."""
    key = f"works.contractors.{user.id}"
    if has_request_context() and key in g:
        return g.get(key)
    ids = frozenset(db.session.scalars(select(contractor_users.c.contractor_id)
                                       .where(contractor_users.c.user_id == user.id)))
    if has_request_context():
        setattr(g, key, ids)
    return ids


def forget_contractors(user_id: int) -> None:
    """After this request changed who works for which contractor."""
    if has_request_context():
        g.pop(f"works.contractors.{user_id}", None)


def works_for(user: User, contractor_id: int) -> bool:
    return contractor_id in contractor_ids(user)


def touches_shop(user: User, shop_id: int) -> bool:
    """A contractor's person whose contractor was asked to quote for (or works on) a project of this shop."""
    ids = contractor_ids(user)
    return bool(ids) and db.session.scalar(select(exists().where(
        Quote.contractor_id.in_(ids), Quote.project_id == Project.id, Project.shop_id == shop_id))) is True


def sees_order(user: User, order: WorkOrder) -> bool:
    """The alliance's staff, the street's officers, the shop's owners and the contractor's own people."""
    return (alliance_staff(user, order.project.alliance) or officer_of(user, order.project.alliance.street_id)
            or owns_shop(user, order.project.shop_id) or works_for(user, order.contractor_id))


def works_on(user: User, order: WorkOrder) -> bool:
    """The contractor's people, and the alliance's leads: they log the work and mark milestones done."""
    return works_for(user, order.contractor_id) or lead_of(user, order.project.alliance)


def acceptor_rule(alliance_id: int) -> Acceptor:
    """The alliance's rule of who accepts (asked once per request: an alliance that keeps the default has no row for
    the session to remember, so every check of every milestone and punch item would ask again)."""
    key = f"works.acceptor.{alliance_id}"
    if has_request_context() and key in g:
        return g.get(key)
    settings = db.session.get(WorksSettings, alliance_id)
    rule = settings.accepted_by if settings is not None else Acceptor.LEAD
    if has_request_context():
        setattr(g, key, rule)
    return rule


def forget_acceptor_rule(alliance_id: int) -> None:
    """After this request changed the alliance's rules for works."""
    if has_request_context():
        g.pop(f"works.acceptor.{alliance_id}", None)


def accepts(user: User, order: WorkOrder) -> bool:
    """Who accepts a milestone or verifies a repair: a lead, or the shop's owner, as the alliance's rules say."""
    rule = acceptor_rule(order.alliance_id)
    lead = lead_of(user, order.project.alliance)
    owner = owns_shop(user, order.project.shop_id)
    return {Acceptor.LEAD: lead, Acceptor.OWNER: owner, Acceptor.EITHER: lead or owner}[rule]


def order_of(project: Project) -> WorkOrder | None:
    return db.session.scalar(select(WorkOrder).where(WorkOrder.project_id == project.id))


def works_on_project(user: User, project: Project) -> bool:
    """Who moves the project to `in_progress` by logging work: its contractor's people and the alliance's leads."""
    order = order_of(project)
    return works_on(user, order) if order is not None else lead_of(user, project.alliance)


def accepts_for_project(user: User, project: Project) -> bool:
    """Who moves the project to `installed` by accepting the installation."""
    order = order_of(project)
    return accepts(user, order) if order is not None else lead_of(user, project.alliance)


def _contractor_file(user: User, file: Photo | Document) -> bool:
    """A contractor's people see the photos and PDFs of the shops whose projects they quote for or work on."""
    return file.shop_id is not None and touches_shop(user, file.shop_id)


RULES = {
    (Alliance, "manage_contractors"): lambda u, a: lead_of(u, a),
    (Alliance, "view_contractors"): lambda u, a: alliance_staff(u, a),
    (Alliance, "view_works"): lambda u, a: alliance_staff(u, a) or officer_of(u, a.street_id),
    (Contractor, "view"): lambda u, c: alliance_staff(u, c.alliance) or works_for(u, c.id),
    (Contractor, "edit"): lambda u, c: lead_of(u, c.alliance),
    (Project, "choose_contractor"): lambda u, p: lead_of(u, p.alliance),
    (Project, "view_works"): lambda u, p: (
        alliance_staff(u, p.alliance) or officer_of(u, p.alliance.street_id) or owns_shop(u, p.shop_id)
    ),
    (Quote, "view"): lambda u, q: can(u, "view_works", q.project) or works_for(u, q.contractor_id),
    (Quote, "answer"): lambda u, q: works_for(u, q.contractor_id) or lead_of(u, q.project.alliance),
    (Quote, "choose"): lambda u, q: lead_of(u, q.project.alliance),
    (WorkOrder, "view"): sees_order,
    (WorkOrder, "work"): works_on,
    (WorkOrder, "accept"): accepts,
    (WorkOrder, "manage"): lambda u, o: lead_of(u, o.project.alliance),
    (WorkOrder, "propose_change"): lambda u, o: works_on(u, o),
    (WorkOrder, "raise_punch"): lambda u, o: accepts(u, o) or lead_of(u, o.project.alliance)
    or officer_of(u, o.project.alliance.street_id),
    (WorkOrder, "pay"): lambda u, o: can(u, "request_expense", o.project.alliance),
    (Milestone, "view"): lambda u, m: sees_order(u, m.order),
    (SiteLogEntry, "view"): lambda u, e: can(u, "view", db.session.get(WorkOrder, e.order_id)),
    (PunchItem, "view"): lambda u, p: sees_order(u, p.order),
    (ChangeOrder, "view"): lambda u, c: sees_order(u, c.order),
    (OrderPayment, "view"): lambda u, p: sees_order(u, db.session.get(WorkOrder, p.order_id)),
    (Photo, "view"): _contractor_file,
    (Document, "view"): _contractor_file,
}
VISIBLE_WHEN = {Contractor: "view", Quote: "view", WorkOrder: "view", Milestone: "view", PunchItem: "view",
                ChangeOrder: "view"}
