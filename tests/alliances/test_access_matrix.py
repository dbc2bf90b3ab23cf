"""Every route, every role, both sides: guessing ids in URLs reveals nothing.

The routes come from `app.url_map`, so a new route fails `test_every_route_is_in_the_matrix` until
someone decides here who may use it. Side A is the actor's own street, alliance and shop; side B is
another street entirely, and every name on it carries MARK, which must never appear on a page served
to anyone but the platform admin.

Expectations for the actor's own side: "ok" (200, or a redirect after a POST that is not to the
login page), 403 (may see the object but not do this) or 404 (may not even see it). On side B
every role but the admin gets 404; the admin gets what it gets on side A, except for a person's own
things (notifications), which are 404 for the admin too.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, or_, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts import services as accounts
from merchant_alliance.accounts.models import Alliance, Invitation, Membership, Role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses, pledges
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import EntryKind, ExpenseRequest, LedgerEntry, Pledge
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.models import Notification
from merchant_alliance.notifications.services import notify
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Project
from merchant_alliance.reports import api_keys
from merchant_alliance.reports.models import HazardReport, ReportEntry, Service
from merchant_alliance.safety import inspections, permits
from merchant_alliance.safety.models import Certificate, InspectionAnswer, Outcome, RectificationOrder
from merchant_alliance.shops.models import SignCondition, SignType
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.works.models import ChangeOrder, Milestone, PunchItem, Quote, SiteLogEntry, WorkOrder
from tests.factories import PASSWORD
from tests.helpers import login_as

MARK = "乙方机密"
ROLES = ("admin", "officer", "lead", "treasurer", "contractor", "owner", "nobody")
OK = "ok"


@dataclass(frozen=True)
class Access:
    ok: frozenset[str]
    forbidden: frozenset[str]
    personal: bool  # a person's own things: nobody else, not even the admin, may reach them
    post: frozenset[str] | None  # who may POST, when fewer than who may see the page (the rest get 403)

    def own(self, role: str, method: str) -> int | str:
        if method == "POST" and self.post is not None and role in self.ok and role not in self.post:
            return 403
        return OK if role in self.ok else 403 if role in self.forbidden else 404

    def other(self, role: str, method: str) -> int | str:
        return self.own(role, method) if role == "admin" and not self.personal else 404


def access(ok: str = "", forbidden: str = "", personal: bool = False, post: str | None = None) -> Access:
    return Access(frozenset(ok.split()), frozenset(forbidden.split()), personal,
                  None if post is None else frozenset(post.split()))


EVERYONE = "admin officer lead treasurer contractor owner nobody"
SHOP_VIEWERS = "admin officer lead treasurer owner"  # not the contractor: shops are not their business
ALLIANCE_MEMBERS = "admin officer lead treasurer contractor owner"
STAFF = "admin officer lead treasurer"
BOOK_READERS = "admin officer lead treasurer owner"
LEAD_ONLY = access("admin lead", "officer treasurer contractor owner")
SHOP_LEAD_ONLY = access("admin lead", "officer treasurer owner")
PROPOSERS = access("lead owner", "admin officer treasurer")  # the shop's own people and its lead
WORKS = "lead treasurer officer owner contractor"  # who sees a work order: not the platform admin

# Who may use each route that needs a login, on their own side.
ROUTES: dict[str, Access] = {
    # a person's own pages
    "/password": access(EVERYONE, personal=True),
    "/logout/everywhere": access(EVERYONE, personal=True),
    "/notifications": access(EVERYONE, personal=True),
    "/notifications/read-all": access(EVERYONE, personal=True),
    "/notifications/<int:notification_id>/open": access(EVERYONE, personal=True),
    "/projects/mine": access(EVERYONE, personal=True),
    # the platform
    "/streets": access("admin"),
    # a street
    "/streets/<int:street_id>": access("admin officer"),
    "/streets/<int:street_id>/invite": access("admin officer"),
    "/streets/<int:street_id>/audit": access("admin officer"),
    "/streets/<int:street_id>/guidelines": access(ALLIANCE_MEMBERS, post="admin officer"),
    # the street's safety checklist and settings: its officers only (the admin sees the street, hence 403)
    "/streets/<int:street_id>/safety/checklist": access("officer", "admin"),
    "/streets/<int:street_id>/safety/checklist/versions/<int:number>": access("officer", "admin"),
    "/streets/<int:street_id>/safety/checklist/edit": access("officer", "admin"),
    "/streets/<int:street_id>/safety/settings": access("officer", "admin"),
    # the keys city systems post reports with (Open311): the street's officers only
    "/streets/<int:street_id>/api-keys": access("officer", "admin"),
    "/streets/<int:street_id>/api-keys/<int:api_key_id>/revoke": access("officer", "admin"),
    # the street's sign registry, its CSV, planning a road's inspections and the day's route: its officers only
    "/streets/<int:street_id>/registry": access("officer", "admin"),
    "/streets/<int:street_id>/registry.csv": access("officer", "admin"),
    "/streets/<int:street_id>/registry/plan": access("officer", "admin"),
    "/streets/<int:street_id>/route": access("officer", "admin"),
    # hazard reports: the street's officers triage them (the admin sees the street, not its reports)
    "/streets/<int:street_id>/reports/triage": access("officer", "admin"),
    "/reports/<int:report_id>": access("officer"),
    "/reports/<int:report_id>/link": access("officer"),
    "/reports/<int:report_id>/accept": access("officer"),
    "/reports/<int:report_id>/inspect": access("officer"),
    "/reports/<int:report_id>/dismiss": access("officer"),
    "/reports/<int:report_id>/publish": access("officer"),
    # an alliance
    "/alliances/<int:alliance_id>": access(ALLIANCE_MEMBERS),
    "/alliances/<int:alliance_id>/invite": LEAD_ONLY,
    "/alliances/<int:alliance_id>/audit": access("admin officer lead", "treasurer contractor owner"),
    "/alliances/<int:alliance_id>/shops": access(STAFF, "contractor owner"),
    "/alliances/<int:alliance_id>/shops/new": LEAD_ONLY,
    "/alliances/<int:alliance_id>/shops/import": LEAD_ONLY,
    "/alliances/<int:alliance_id>/projects": access(STAFF, "contractor owner"),
    # the alliance's renewal goal, shown on its leads' home: its leads set it
    "/alliances/<int:alliance_id>/renewal-goal": access("lead", "admin officer treasurer contractor owner"),
    "/invitations/<int:invitation_id>/revoke": access("admin lead"),
    # a lead appointed by another lead is confirmed or declined from outside the alliance's leadership
    "/memberships/<int:membership_id>/confirm": access("admin officer", "lead treasurer contractor owner"),
    "/memberships/<int:membership_id>/decline": access("admin officer", "lead treasurer contractor owner"),
    # a shop and what belongs to it
    "/shops/<int:shop_id>": access(SHOP_VIEWERS),
    "/shops/<int:shop_id>/invite": SHOP_LEAD_ONLY,
    "/shops/<int:shop_id>/edit": SHOP_LEAD_ONLY,
    "/shops/<int:shop_id>/active": SHOP_LEAD_ONLY,
    "/shops/<int:shop_id>/members/<int:membership_id>/remove": SHOP_LEAD_ONLY,
    "/shops/<int:shop_id>/signboards/new": PROPOSERS,
    "/shops/<int:shop_id>/projects/new": PROPOSERS,
    "/signboards/<int:signboard_id>": access(SHOP_VIEWERS),
    "/signboards/<int:signboard_id>/edit": PROPOSERS,
    # a sign's registry page: whoever sees the sign; its shop (or lead) or the street's officer closes it as removed
    "/signboards/<int:signboard_id>/registry": access(SHOP_VIEWERS),
    "/signboards/<int:signboard_id>/removal": access(SHOP_VIEWERS, post="officer lead owner"),
    # the contractor quotes for a project of this shop (`contracted`): it sees the shop's photos, the sign's as it is
    "/photos/<int:photo_id>/<any(display, thumb):size>": access(f"{SHOP_VIEWERS} contractor"),
    "/documents/<int:document_id>": access(f"{SHOP_VIEWERS} contractor"),  # a PDF of the contractor's quote
    "/projects/<int:project_id>": access(SHOP_VIEWERS),
    "/projects/<int:project_id>/versions/new": PROPOSERS,
    "/projects/<int:project_id>/versions/<int:number>": access(SHOP_VIEWERS),
    "/projects/<int:project_id>/compare": access(SHOP_VIEWERS),
    "/projects/<int:project_id>/actions": access(SHOP_VIEWERS),
    "/projects/<int:project_id>/comments": access(SHOP_VIEWERS),
    "/projects/<int:project_id>/timeline": access(SHOP_VIEWERS),
    # the alliance's fund: open books for members, money recorded by the treasurer only
    "/alliances/<int:alliance_id>/fund": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/entries": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/entries.csv": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/statement": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/statement/print": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/statement.csv": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/shops": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/projects": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/record": access("treasurer", "admin officer lead contractor owner"),
    "/fund/entries/<int:entry_id>/reverse": access("treasurer", "admin officer lead owner"),
    # budgets, pledges and spending: leads budget and approve, the treasurer pays, receipts stay with the staff
    "/projects/<int:project_id>/budget": access("lead", "admin officer treasurer owner"),
    "/alliances/<int:alliance_id>/fund/rules": access("lead", "admin officer treasurer contractor owner"),
    "/alliances/<int:alliance_id>/funds": access("lead", "admin officer treasurer contractor owner"),
    "/alliances/<int:alliance_id>/fund/pledges": access(STAFF, "contractor owner"),  # arrears name the late
    "/alliances/<int:alliance_id>/fund/pledges/new": access("lead treasurer owner", "admin officer contractor"),
    "/fund/pledges/<int:pledge_id>/cancel": access("lead treasurer", "admin officer owner"),
    "/shops/<int:shop_id>/money": access(SHOP_VIEWERS),
    "/alliances/<int:alliance_id>/fund/expenses": access(BOOK_READERS, "contractor"),
    "/alliances/<int:alliance_id>/fund/expenses/new": access("lead treasurer", "admin officer contractor owner"),
    "/fund/expenses/<int:request_id>": access(BOOK_READERS, "contractor"),
    # Every reader of the books reaches the buttons; the service refuses, with a message, what is not theirs.
    "/fund/expenses/<int:request_id>/<any(submit, approve, reject, cancel, pay, receipts):action>":
        access(BOOK_READERS, "contractor"),
    # street safety: whoever sees the shop sees its inspections and certificates; its street's officer
    # inspects, the shop (or its lead) reports fixes
    "/projects/<int:project_id>/inspections": access(SHOP_VIEWERS, post="officer"),
    "/inspections/<int:inspection_id>": access(SHOP_VIEWERS),
    "/inspections/<int:inspection_id>/answers/<code>": access(SHOP_VIEWERS, post="officer"),
    "/inspections/<int:inspection_id>/finish": access(SHOP_VIEWERS, post="officer"),
    "/rectifications/<int:order_id>": access(SHOP_VIEWERS),
    "/rectifications/<int:order_id>/items/<int:item_id>/fixed": access(SHOP_VIEWERS, post="lead owner"),
    "/rectifications/<int:order_id>/reinspect": access(SHOP_VIEWERS, post="officer"),
    "/rectifications/<int:order_id>/deadline": access(SHOP_VIEWERS, post="officer"),
    "/signboards/<int:signboard_id>/inspections": access(SHOP_VIEWERS, post="officer"),
    "/certificates/<int:certificate_id>": access(SHOP_VIEWERS),
    "/certificates/<int:certificate_id>/tag": access(SHOP_VIEWERS),
    "/certificates/<int:certificate_id>/revoke": access(SHOP_VIEWERS, post="officer"),
    # the structural permit: the shop (or its lead) sends the plan and brings the district's permit; its street's
    # officer decides
    "/projects/<int:project_id>/permit/plan": PROPOSERS,
    "/permits/<int:permit_id>": access(SHOP_VIEWERS),
    "/permits/<int:permit_id>/grant": access(SHOP_VIEWERS, post="officer"),
    "/permits/<int:permit_id>/deny": access(SHOP_VIEWERS, post="officer"),
    "/permits/<int:permit_id>/district": access(SHOP_VIEWERS, post="officer"),
    "/permits/<int:permit_id>/record": access(SHOP_VIEWERS, post="officer"),
    "/permits/<int:permit_id>/upload": access(SHOP_VIEWERS, post="lead owner"),
    # works: the alliance's staff keep the register and see every order; a contractor's people see their own quotes
    # and orders; the shop's owner and the street office see the works on the shop's project
    "/my-work": access("contractor"),
    "/alliances/<int:alliance_id>/contractors": access("lead treasurer", "admin officer contractor owner", post="lead"),
    "/alliances/<int:alliance_id>/works/rules": access("lead", "admin officer treasurer contractor owner"),
    "/alliances/<int:alliance_id>/works": access("lead treasurer officer", "admin contractor owner"),
    "/contractors/<int:contractor_id>": access("lead treasurer contractor", post="lead"),
    "/contractors/<int:contractor_id>/active": access("lead", "treasurer contractor"),
    "/contractors/<int:contractor_id>/people": access("lead", "treasurer contractor"),
    "/projects/<int:project_id>/quotes": access("lead treasurer officer owner", "admin"),
    "/projects/<int:project_id>/quotes/invite": access("lead", "admin officer treasurer owner"),
    "/quotes/<int:quote_id>": access(WORKS, post="lead contractor"),
    "/quotes/<int:quote_id>/decline": access("lead contractor", "treasurer officer owner"),
    "/quotes/<int:quote_id>/select": access("lead", "treasurer officer owner contractor"),
    "/orders/<int:work_order_id>": access(WORKS),
    "/orders/<int:work_order_id>/milestones": access("lead", "treasurer officer owner contractor"),
    "/orders/<int:work_order_id>/log": access("lead contractor", "treasurer officer owner"),
    "/orders/<int:work_order_id>/punch": access("lead officer", "treasurer owner contractor"),
    "/orders/<int:work_order_id>/changes": access("lead contractor", "treasurer officer owner"),
    "/orders/<int:work_order_id>/retention": access("lead treasurer", "officer owner contractor"),
    # Everyone who sees the order reaches the buttons; the service refuses, with a message, what is not theirs.
    "/milestones/<int:milestone_id>/done": access(WORKS),
    "/milestones/<int:milestone_id>/accept": access(WORKS),
    "/milestones/<int:milestone_id>/send-back": access(WORKS),
    "/milestones/<int:milestone_id>/pay": access(WORKS),
    "/punch/<int:punch_id>/<any(fix, verify, reopen, close):punch_step>": access(WORKS),
    "/changes/<int:change_id>/<any(approve, reject, withdraw):change_step>": access(WORKS),
}

# Routes anyone may open without logging in: what an anonymous visitor gets, per method. Tokens are
# secrets handed out by email or link, not guessable ids, so here they are made-up ones.
PUBLIC: dict[str, dict[str, int]] = {
    "/static/<path:filename>": {"GET": 200},
    "/": {"GET": 200},
    "/healthz": {"GET": 200},
    "/login": {"GET": 200, "POST": 200},
    "/logout": {"POST": 302},
    "/login/unlock": {"POST": 302},
    "/login/unlock/<token>": {"GET": 302},
    "/password/forgot": {"GET": 200, "POST": 200},
    "/password/reset/<token>": {"GET": 302, "POST": 302},
    "/invite/<token>": {"GET": 404, "POST": 404},
    "/language": {"POST": 302},
    "/tags/<token>": {"GET": 404},  # a safety tag's page, by its certificate's unguessable token
    # hazard reports from anyone: the street's form (sent empty, it comes back with its refusals), the form from a
    # sign's tag, the reporter's private page (by an unguessable token) and the street's public list
    "/streets/<int:street_id>/report": {"GET": 200, "POST": 200},
    "/tags/<token>/report": {"GET": 404, "POST": 404},
    "/reports/follow/<token>": {"GET": 404},
    "/streets/<int:street_id>/reports": {"GET": 200},
    # Open311, for city systems: with two streets and no jurisdiction_id, it asks for one
    "/open311/v2/services.<any(json, xml):fmt>": {"GET": 400},
    "/open311/v2/requests.<any(json, xml):fmt>": {"GET": 400, "POST": 400},
    "/open311/v2/requests/<int:service_request_id>.<any(json, xml):fmt>": {"GET": 400},
}
# Public pages of a street that name it and its shops (for the public to report them): on side B's own page, B's
# street and shop names are expected; its people's names never.
NAMES_ITS_STREET = {"/streets/<int:street_id>/report", "/streets/<int:street_id>/reports"}
# Public, but each object is checked: a private photo is absent for a visitor (a public one is not).
CHECKED_FOR_VISITORS = {"/photos/<int:photo_id>/<any(display, thumb):size>": 404, "/documents/<int:document_id>": 404}

ARGUMENT = re.compile(r"<(?:[^>]*:)?(\w+)>")
NOT_IDS = {"number", "size", "token", "filename", "action", "code", "punch_step", "change_step"}
NOISE = [re.compile(rb'<div class="flashes".*?</div>', re.S),  # a message left over from an earlier page
         re.compile(rb'name="csrf_token" value="[^"]*"'),  # signed with the current second
         re.compile(rb"\s+")]


def all_rules(app) -> list:
    return sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)


def methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"}, key=["GET", "POST", "PUT", "PATCH", "DELETE"].index)


def url(rule, values: dict[str, Any]) -> str:
    return ARGUMENT.sub(lambda m: str(values[m.group(1)]), rule.rule)


def fetch(client, path: str, method: str):
    """The response, read and closed (a photo or static file is streamed from an open file)."""
    response = client.open(path, method=method)
    response.get_data()
    response.close()
    return response


def test_every_route_is_in_the_matrix(app):
    missing = [r.rule for r in all_rules(app) if r.rule not in ROUTES and r.rule not in PUBLIC]
    assert not missing, f"decide here who may use these routes: {missing}"
    stale = (set(ROUTES) | set(PUBLIC)) - {r.rule for r in all_rules(app)}
    assert not stale, f"these routes no longer exist: {stale}"


# --- the two sides, furnished with one of everything ----------------------------------------------


def small_jpeg(name: str) -> FileStorage:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (139, 30, 30)).save(buffer, "JPEG")
    buffer.seek(0)
    return FileStorage(stream=buffer, filename=name, content_type="image/jpeg")


def small_pdf(name: str) -> FileStorage:
    data = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def furnish(side, prefix: str) -> dict[str, Any]:
    """One of each kind of object on a side, by the URL argument that names it."""
    invitation, _token = accounts.invite(side.lead, Role.TREASURER, alliance=side.alliance, name=f"{prefix}受邀人")
    signboard = register_signboard(side.owner, side.shop, {
        "position": f"{prefix}正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("3.00"),
        "height_m": Decimal("0.80"), "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.80"),
        "material": "铁皮", "illuminated": False, "install_year": 2009, "condition": SignCondition.WORN,
    }, [small_jpeg(f"{prefix}.jpg")])
    project = projects.propose_renovation(side.owner, signboard, f"{prefix}店招翻新")
    for projection in ("0.30", "0.20"):
        projects.add_design_version(side.owner, project, {
            "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("3.00"), "height_m": Decimal("0.80"),
            "projection_m": Decimal(projection), "clearance_m": Decimal("2.80"), "materials": "铝板",
            "estimated_cost_fen": 1_200_000})
    membership = next(m for m in side.owner.memberships if m.role == Role.SHOP_OWNER)
    (note,) = notify([side.lead.id], N_("%(name)s commented on “%(title)s”."), name=prefix, title=project.title)
    fund = funds.default_fund(side.alliance)
    entry = funds.record_entry(side.treasurer, fund,
                               funds.EntryDetails(EntryKind.CONTRIBUTION, 500_00, shop=side.shop,
                                                  purpose=f"{prefix}出资"),
                               idempotency_key=f"{prefix}-entry")
    pledge = pledges.create_pledge(side.owner, fund, side.shop, 300_00, pledges.today() + timedelta(days=30),
                                   note=f"{prefix}认捐")
    expense = expenses.create_request(side.lead, fund, payee=f"{prefix}施工队", payee_account=f"{prefix}银行",
                                      amount_fen=100_00, purpose=f"{prefix}定金", receipts=[small_jpeg("发票.jpg")],
                                      idempotency_key=f"{prefix}-expense", submit=False)  # a draft tells nobody
    db.session.commit()
    safety = inspected(side, prefix)
    return {
        **safety, **contracted(side, prefix), "permit_id": permit_requested(side, prefix),
        "street_id": side.street.id, "alliance_id": side.alliance.id, "shop_id": side.shop.id,
        "invitation_id": invitation.id, "membership_id": membership.id, "signboard_id": signboard.id,
        "photo_id": signboard.photos[0].id, "project_id": project.id, "number": 1, "size": "thumb",
        "notification_id": note.id, "token": "made-up-token", "filename": "css/app.css", "entry_id": entry.id,
        "pledge_id": pledge.id, "request_id": expense.id, "action": "approve",
        "api_key_id": api_keys.issue(side.officer, side.street, f"{prefix}热线")[0].id,
        "service_request_id": reported(side, prefix), "fmt": "json", "report_id": report_case(side, prefix),
    }


def report_case(side, prefix: str) -> int:
    """A passer-by's report of the side's shop, through the report service: its case's id."""
    from merchant_alliance.reports import services as reports

    return reports.submit(side.street, alliance_id=side.alliance.id, shop_id=side.shop.id, service="loose",
                          description=f"{prefix}招牌松动", photos=[small_jpeg(f"{prefix}报告.jpg")],
                          reporter_name=f"{prefix}路人", reporter_contact="13900001111").report_id


def reported(side, prefix: str) -> int:
    """A hazard report of the side's street (as Open311 lists it): its id."""
    report = HazardReport(street_id=side.street.id, alliance_id=side.alliance.id, house_number="1",
                          place_key=f"house:{side.alliance.id}:1", service=Service.LOOSE, description=f"{prefix}松动")
    db.session.add(report)
    db.session.flush()
    db.session.add(ReportEntry(report_id=report.id, token=f"{prefix}-token", description=report.description,
                               reporter_name=f"{prefix}报告人"))
    db.session.commit()
    return report.id


def inspected(side, prefix: str) -> dict[str, Any]:
    """A sign inspected and failed (its rectification order open), and another inspected and certified."""
    ids = {}
    for n, failing in enumerate(("S05", None)):
        signboard = register_signboard(side.owner, side.shop, {
            "position": f"{prefix}侧门{n}", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("2.00"),
            "height_m": Decimal("0.60"), "projection_m": Decimal("0.20"), "clearance_m": Decimal("3.20"),
            "material": "铝板", "illuminated": False, "install_year": 2020, "condition": SignCondition.GOOD,
        }, [small_jpeg(f"{prefix}{n}.jpg")])
        inspection = inspections.start_for_sign(side.officer, signboard)
        for question in inspections.questions(inspection):
            inspections.save_answer(side.officer, inspection, question.code,
                                    Outcome.FAIL if question.code == failing else Outcome.PASS, f"{prefix}备注",
                                    [small_jpeg(f"{question.code}.jpg")] if question.photo_required else [])
        inspections.finish(side.officer, inspection)
        if failing:
            order = db.session.scalar(select(RectificationOrder).where(
                RectificationOrder.inspection_id == inspection.id))
            ids.update(inspection_id=inspection.id, order_id=order.id, item_id=order.items[0].id, code="S01")
        else:
            ids["certificate_id"] = db.session.scalar(
                select(Certificate.id).where(Certificate.inspection_id == inspection.id))
    return ids


def contracted(side, prefix: str) -> dict[str, Any]:
    """A project funded and contracted: the side's contractor person acts for the chosen contractor, which quoted and
    was selected; on its order a milestone is marked done, a defect is on the punch list and a change is proposed."""
    from merchant_alliance.funds import budgets
    from merchant_alliance.works import contractors, orders, quotes
    from tests.fixtures.safety import permitted_project

    project = permitted_project(owner=side.owner, shop=side.shop, title=f"{prefix}灯箱更新")
    fund = funds.default_fund(side.alliance)
    funds.record_entry(side.treasurer, fund, funds.EntryDetails(EntryKind.SUBSIDY, 5_000_00, counterparty="街道办"),
                       idempotency_key=f"{prefix}-subsidy")
    budget = budgets.set_budget(side.lead, project, 10_000_00, budgets.default_rule(fund))
    pledges.create_pledge(side.owner, fund, side.shop, budget.shop_fen, pledges.today() + timedelta(days=30),
                          project=project)
    projects.move(side.lead, project, "fund")
    contractor = contractors.add_contractor(side.lead, side.alliance, {"name": f"{prefix}施工队",
                                                                      "kinds": ["installer"]})
    contractors.add_person(side.lead, contractor, side.contractor.id)
    (quote,) = quotes.invite(side.lead, project, [contractor], f"{prefix}请报价")
    quotes.submit(side.contractor, quote, quotes.Offer(9_000_00, f"{prefix}拆旧安装", 20,
                                                       pledges.today() + timedelta(days=30)), [small_pdf("报价单.pdf")])
    order = quotes.select_quote(side.lead, quote, f"{prefix}报价合理")
    milestone = order.milestones[0]
    orders.mark_done(side.contractor, milestone, f"{prefix}完成", [small_jpeg("完成.jpg")])
    punch = orders.raise_punch(side.lead, order, f"{prefix}缝隙", [small_jpeg("缺陷.jpg")])
    change = orders.propose_change(side.contractor, order, 100_00, f"{prefix}加装保险绳")
    return {"contractor_id": contractor.id, "quote_id": quote.id, "work_order_id": order.id,
            "document_id": quote.documents[0].id,
            "milestone_id": milestone.id, "punch_id": punch.id, "change_id": change.id,
            "punch_step": "verify", "change_step": "reject"}


def permit_requested(side, prefix: str) -> int:
    """A sign's design approved and its structural plan sent to the street office: the permit's id."""
    signboard = register_signboard(side.owner, side.shop, {
        "position": f"{prefix}橱窗上方", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("2.00"),
        "height_m": Decimal("0.60"), "projection_m": Decimal("0.20"), "clearance_m": Decimal("3.00"),
        "material": "铝板", "illuminated": False, "install_year": 2015, "condition": SignCondition.WORN,
    })
    project = projects.propose_renovation(side.owner, signboard, f"{prefix}橱窗招牌")
    projects.add_design_version(side.owner, project, {
        "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("2.00"), "height_m": Decimal("0.60"),
        "projection_m": Decimal("0.20"), "clearance_m": Decimal("3.00")},
        mockups=[small_jpeg("设计稿.jpg")], current=[small_jpeg("现状.jpg")])
    projects.move(side.owner, project, "submit")
    projects.move(side.lead, project, "approve_design")
    return permits.request_permit(side.owner, project, {
        "fixing_method": "化学锚栓", "host_wall": "混凝土圈梁", "width_m": "2.00", "height_m": "0.60",
        "projection_m": "0.20", "clearance_m": "3.00", "top_height_m": "3.60", "weight_kg": "20"},
        [small_jpeg(f"{prefix}结构图.jpg")]).id


def mark_side_b(world) -> None:
    b = world.b
    b.street.name, b.alliance.name = f"{MARK}街道", f"{MARK}商家联盟"
    b.shop.name, b.other_shop.name = f"{MARK}小店", f"{MARK}另一家店"
    for role in ("owner", "lead", "treasurer", "officer", "contractor"):
        getattr(b, role).name = f"{MARK}{role}"
    db.session.commit()


@pytest.fixture
def sides(world) -> dict[str, dict[str, Any]]:
    mark_side_b(world)
    return {"a": furnish(world.a, "甲方"), "b": furnish(world.b, MARK)}


def renew(side, values: dict[str, Any]) -> None:
    """Put back what an allowed POST in the last round may have changed, so each role starts alike."""
    side.shop.active = True
    membership = accounts.grant_role(side.owner, Role.SHOP_OWNER, shop=side.shop)  # the same one if still there
    if not db.session.get(Invitation, values["invitation_id"]).is_usable:
        values["invitation_id"] = accounts.invite(side.lead, Role.TREASURER, alliance=side.alliance)[0].id
    db.session.commit()
    values["membership_id"] = membership.id


def side_b_state(world, b: dict[str, Any]) -> tuple:
    """What someone from side A must not be able to change on side B."""
    return (
        db.session.scalar(select(func.count()).select_from(AuditEvent).where(or_(
            AuditEvent.alliance_id == b["alliance_id"], AuditEvent.street_id == b["street_id"]))),
        db.session.scalar(select(func.count()).select_from(Membership).where(Membership.id == b["membership_id"])),
        db.session.get(Invitation, b["invitation_id"]).status,
        db.session.get(Notification, b["notification_id"]).read_at,
        db.session.get(Project, b["project_id"]).state,
        world.b.shop.active,
        db.session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.shop_id == world.b.shop.id)),
        db.session.get(ExpenseRequest, b["request_id"]).state,
        db.session.get(Pledge, b["pledge_id"]).cancelled_at,
        db.session.scalar(select(func.count()).select_from(InspectionAnswer)),
        db.session.get(RectificationOrder, b["order_id"]).state,
        db.session.get(Certificate, b["certificate_id"]).revoked_at,
        db.session.get(Milestone, b["milestone_id"]).state, db.session.get(Quote, b["quote_id"]).state,
        db.session.get(PunchItem, b["punch_id"]).state, db.session.get(ChangeOrder, b["change_id"]).state,
        db.session.get(WorkOrder, b["work_order_id"]).changes_fen,
        db.session.scalar(select(func.count()).select_from(SiteLogEntry)
                          .where(SiteLogEntry.order_id == b["work_order_id"])),
        db.session.execute(select(HazardReport.state, HazardReport.signboard_id, HazardReport.published)
                           .where(HazardReport.id == b["report_id"])).one(),
        db.session.scalar(select(Alliance.renewal_goal).where(Alliance.id == b["alliance_id"])),
    )


def mismatch(response, expected: int | str) -> str | None:
    """Why `response` is not what was expected, or None."""
    location = response.location or ""
    if expected == OK:
        if response.status_code not in (200, 302) or location.startswith("/login"):
            return f"got {response.status_code} {location}, expected 200 or a redirect"
        return None
    return None if response.status_code == expected else f"got {response.status_code} {location}, expected {expected}"


def role_row(app, client, world, sides, role: str) -> list[str]:
    """What goes wrong for one logged-in role across every route, on both sides."""
    problems = []
    actor = {"admin": world.admin, "nobody": world.nobody}.get(role) or getattr(world.a, role)
    own_note = notify([actor.id], N_("%(name)s commented on “%(title)s”."), name="甲方", title="甲方店招")[0]
    db.session.commit()
    own = {**sides["a"], "notification_id": own_note.id}
    before = side_b_state(world, sides["b"])
    client.post("/login", data={"login": actor.phone, "password": PASSWORD})

    for rule in all_rules(app):
        if rule.rule in ("/logout", "/logout/everywhere"):
            continue  # logging out: at the end
        if rule.rule not in ROUTES and role != "nobody":
            continue  # public pages: the anonymous row covers them, one logged-in role is enough here
        for method in methods(rule):
            targets = [(own, ROUTES[rule.rule].own(role, method) if rule.rule in ROUTES else None)]
            if rule.rule in ROUTES and rule.arguments - {"token", "filename"}:
                targets.append((sides["b"], ROUTES[rule.rule].other(role, method)))
            for values, expected in targets:
                path = url(rule, values)
                response = fetch(client, path, method)
                if expected is None:  # a public page: it just has to work
                    problem = "server error" if response.status_code >= 500 else None
                else:
                    problem = mismatch(response, expected)
                if role != "admin" and MARK.encode() in response.get_data():
                    problem = (problem or "") + " and shows side B's names"
                if problem:
                    problems.append(f"{role:10} {method:4} {path}: {problem}")

    if role != "admin" and side_b_state(world, sides["b"]) != before:
        problems.append(f"{role}: changed something on side B")
    if client.post("/logout").status_code != 302 or not client.get("/notifications").location.startswith("/login"):
        problems.append(f"{role}: could not log out")
    return problems


def anonymous_row(app, client, world, sides) -> list[str]:
    problems = []
    private = [name.encode() for name in (world.b.lead.name, world.b.owner.name, world.b.shop.name)]
    for rule in all_rules(app):
        for values in (sides["a"], sides["b"]) if rule.arguments else (sides["a"],):
            for method in methods(rule):
                path = url(rule, values)
                response = fetch(client, path, method)
                if rule.rule in PUBLIC:
                    problem = mismatch(response, PUBLIC[rule.rule][method])
                elif rule.rule in CHECKED_FOR_VISITORS:
                    problem = mismatch(response, CHECKED_FOR_VISITORS[rule.rule])
                elif response.status_code != 302 or not response.location.startswith("/login?next="):
                    problem = f"got {response.status_code} {response.location}, expected a redirect to log in"
                else:
                    problem = None
                body = response.get_data()
                # The home page names every alliance and street for the public, a street's report pages its own
                # name and shops; nothing else does, and no page names side B's people.
                own_street = rule.rule in NAMES_ITS_STREET and values is sides["b"]
                named = private[:2] if own_street else private
                marked = rule.rule != "/" and not own_street and MARK.encode() in body
                if any(name in body for name in named) or marked:
                    problem = (problem or "") + " and shows side B's names"
                if problem:
                    problems.append(f"anonymous  {method:4} {path}: {problem}")
    return problems


def essence(response, path: str) -> bytes:
    """The page without its own path, a CSRF token or a message left over from an earlier page."""
    body = response.get_data().replace(path.encode(), b"")
    for noise in NOISE:
        body = noise.sub(b"", body)
    return body


def ghost_row(app, client, world, sides) -> list[str]:
    """A lead guessing ids: an object of another alliance looks exactly like one that does not exist."""
    problems = []
    ghost = {key: value + 100_000 if isinstance(value, int) and key != "number" else value
             for key, value in sides["b"].items()}
    client.post("/login", data={"login": world.a.lead.phone, "password": PASSWORD})
    for rule in all_rules(app):
        if rule.rule not in ROUTES or not rule.arguments - {"token", "filename"}:
            continue
        for method in methods(rule):
            nowhere = fetch(client, url(rule, ghost), method)
            elsewhere = fetch(client, url(rule, sides["b"]), method)
            if nowhere.status_code != 404:
                problems.append(f"lead       {method:4} {url(rule, ghost)}: got {nowhere.status_code}, expected 404")
            elif essence(elsewhere, url(rule, sides["b"])) != essence(nowhere, url(rule, ghost)):
                problems.append(f"lead       {method:4} {rule.rule}: another alliance's object looks different "
                                "from a missing one")
            # In a URL naming two objects, the lead's own first one with another alliance's second one.
            ids = [name for name in ARGUMENT.findall(rule.rule) if name not in NOT_IDS]
            if len(ids) > 1:
                mixed = {**sides["b"], ids[0]: sides["a"][ids[0]]}
                mixed_ghost = {**ghost, ids[0]: sides["a"][ids[0]]}
                response = fetch(client, url(rule, mixed), method)
                if response.status_code != 404 or \
                        essence(response, url(rule, mixed)) != essence(fetch(client, url(rule, mixed_ghost), method),
                                                                      url(rule, mixed_ghost)):
                    problems.append(f"lead       {method:4} {url(rule, mixed)}: got {response.status_code}, expected "
                                    "the same 404 as for an object that does not exist")
    client.post("/logout")
    return problems


# --- the matrix --------------------------------------------------------------------------------------


def test_every_route_with_every_role_on_both_sides(app, client, world, sides):
    before = side_b_state(world, sides["b"])
    problems = anonymous_row(app, client, world, sides)
    assert side_b_state(world, sides["b"]) == before

    for role in ROLES:
        renew(world.a, sides["a"])
        renew(world.b, sides["b"])
        problems += role_row(app, client, world, sides, role)

    problems += ghost_row(app, client, world, sides)
    assert not problems, "\n".join(["", *problems])


def test_a_shop_owner_sees_only_their_own_shop_in_their_alliance(client, world):
    login_as(world.a.owner, client)
    assert client.get(f"/shops/{world.a.shop.id}").status_code == 200
    assert client.get(f"/shops/{world.a.other_shop.id}").status_code == 404
    assert client.get(f"/shops/{world.a.other_shop.id}/signboards/new").status_code == 404
    assert client.get(f"/alliances/{world.a.alliance.id}").status_code == 200
    assert client.get(f"/alliances/{world.a.alliance.id}/shops").status_code == 403
