"""Appointing an alliance lead needs someone outside the alliance's leadership: a lead appointed by another
lead holds no powers until the street officer (or a platform admin) confirms the appointment, so one lead
cannot pass the two-lead approval of his own spending with puppets."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from sqlalchemy import func, select

from merchant_alliance import authz
from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import Membership, Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import EntryKind, ExpenseRequest, ExpenseState
from merchant_alliance.notifications.models import Notification
from tests.concurrency import at_once
from tests.helpers import login_as
from tests.projects.helpers import upload

PUPPET_PASSWORD = "Puppet-String-88"


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def appoint_by_link(app, inviter: User, alliance, name: str, phone: str, *, waits: bool = True) -> User:
    """`inviter` invites a new lead through the invitation form (told whether the appointment `waits` for
    the street office); the invitee opens the link and accepts."""
    response = login_as(inviter).post(f"/alliances/{alliance.id}/invite",
                                              data={"role": "alliance_lead", "name": name})
    assert ('data-testid="needs-confirmation"' in page(response)) == waits
    link = re.search(r'value="[^"]*(/invite/[A-Za-z0-9_\-]+)" data-testid="invite-link"', page(response)).group(1)
    invitee = app.test_client()
    invitee.set_cookie("lang", "en")
    response = invitee.post(link, data={"name": name, "phone": phone, "password": PUPPET_PASSWORD,
                                        "confirm": PUPPET_PASSWORD}, follow_redirects=True)
    assert response.status_code == 200
    user = db.session.scalar(select(User).where(User.phone == phone))
    return user


def expense_to_himself(app, lead: User, alliance) -> ExpenseRequest:
    """The lead asks the fund to pay him ¥8,000 (two leads must approve above ¥5,000)."""
    with app.test_request_context("/"):
        fund = funds.default_fund(alliance)
        db.session.commit()
        funds.record_entry(next(m.user for m in db.session.scalars(select(Membership).where(
            Membership.role == Role.TREASURER, Membership.alliance_id == alliance.id))), fund,
            funds.EntryDetails(EntryKind.SUBSIDY, 20_000_00, counterparty="静安寺街道办"),
            idempotency_key=uuid.uuid4().hex)
        request = expenses.create_request(lead, fund, payee=lead.name, amount_fen=8_000_00, purpose="咨询费",
                                          receipts=[upload(filename="发票.jpg")], idempotency_key=uuid.uuid4().hex)
    assert expenses.approvals_needed(request) == 2
    return request


def state(request: ExpenseRequest) -> ExpenseState:
    return db.session.scalar(select(ExpenseRequest.state).where(ExpenseRequest.id == request.id))


def pending(user: User) -> Membership:
    return db.session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                      Membership.role == Role.ALLIANCE_LEAD))


def events(action: str) -> list[tuple]:
    return db.session.execute(select(AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.details)
                              .where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_a_lead_cannot_pass_the_two_lead_approval_with_two_leads_he_appointed_himself(app, world):
    """The puppet attack: the lead invites two friends as leads, they accept, and they approve his ¥8,000
    to himself. Their appointments wait for the street officer; until then they cannot even see the books."""
    lead, alliance = world.a.lead, world.a.alliance
    puppets = [appoint_by_link(app, lead, alliance, name, phone)
               for name, phone in (("王小二", "13955550001"), ("王小三", "13955550002"))]
    request = expense_to_himself(app, lead, alliance)

    for puppet in puppets:
        assert pending(puppet).pending
        assert not authz.can(puppet, "approve_expense", alliance)
        assert not authz.can(puppet, "invite", alliance)  # nor appoint more of his friends
        browser = login_as(puppet, password=PUPPET_PASSWORD)
        assert browser.post(f"/fund/expenses/{request.id}/approve").status_code == 404
        assert "waits for the street office to confirm it" in page(browser.get("/"))
    assert state(request) == ExpenseState.SUBMITTED and request.approvals == []
    with pytest.raises(NotAllowed):
        expenses.approve(puppets[0], request)
    db.session.rollback()

    # Each appointment is audited, and the street's officer is asked to decide.
    appointed = events("lead_appointed")
    assert [(actor, details["user_id"], details["pending"]) for actor, _id, details in appointed] == \
        [(lead.id, puppets[0].id, True), (lead.id, puppets[1].id, True)]
    asks = db.session.scalars(select(Notification).where(Notification.user_id == world.a.officer.id)).all()
    assert sorted(note.params["name"] for note in asks) == ["王小三", "王小二"]
    assert all(note.params["by"] == lead.name for note in asks)

    # The officer sees both on the street's page and confirms them; now the two leads may approve.
    officer = login_as(world.a.officer)
    street_page = page(officer.get(f"/streets/{world.a.street.id}"))
    assert 'data-testid="pending-appointments"' in street_page and "王小二" in street_page
    for puppet in puppets:
        response = officer.post(f"/memberships/{pending(puppet).id}/confirm")
        assert response.status_code == 302
    assert 'data-testid="pending-appointments"' not in page(officer.get(f"/streets/{world.a.street.id}"))
    assert [(actor, details["user_id"]) for actor, _id, details in events("lead_confirmed")] == \
        [(world.a.officer.id, puppets[0].id), (world.a.officer.id, puppets[1].id)]

    for puppet in puppets:
        browser = login_as(puppet, password=PUPPET_PASSWORD)
        assert browser.post(f"/fund/expenses/{request.id}/approve").status_code == 302
    db.session.expire_all()
    assert state(request) == ExpenseState.APPROVED


@pytest.mark.parametrize("who", ["officer_elsewhere", "lead", "treasurer", "appointee", "owner"])
def test_only_the_streets_officer_or_an_admin_decides_an_appointment(app, world, who):
    """Nobody inside the alliance decides its leadership, nor an officer of another street: they get 404 (may
    not see the alliance) or 403 (may see it), and the appointment stays pending."""
    appointee = appoint_by_link(app, world.a.lead, world.a.alliance, "王小二", "13955550001")
    membership_id = pending(appointee).id
    actor, expected = {
        "officer_elsewhere": (world.b.officer, 404), "lead": (world.a.lead, 403),
        "treasurer": (world.a.treasurer, 403), "appointee": (appointee, 404), "owner": (world.a.owner, 403),
    }[who]
    browser = login_as(actor, password=PUPPET_PASSWORD) if who == "appointee" else login_as(actor)

    for decision in ("confirm", "decline"):
        assert browser.post(f"/memberships/{membership_id}/{decision}").status_code == expected
    db.session.expire_all()
    assert db.session.get(Membership, membership_id).pending
    assert events("lead_confirmed") == events("lead_declined") == []
    with pytest.raises(NotAllowed):
        services.confirm_lead(actor, db.session.get(Membership, membership_id))


def test_a_declined_appointment_gives_no_powers_and_is_gone(app, world):
    appointee = appoint_by_link(app, world.a.lead, world.a.alliance, "王小二", "13955550001")
    membership_id = pending(appointee).id
    request = expense_to_himself(app, world.a.lead, world.a.alliance)

    response = login_as(world.a.officer).post(f"/memberships/{membership_id}/decline")

    assert response.status_code == 302
    assert db.session.get(Membership, membership_id) is None
    assert login_as(appointee, password=PUPPET_PASSWORD).post(f"/fund/expenses/{request.id}/approve").status_code == 404
    (declined,) = events("lead_declined")
    assert declined[0] == world.a.officer.id and declined[2]["user_id"] == appointee.id
    told = db.session.scalars(select(Notification.user_id).where(
        Notification.message.contains("declined"))).all()
    assert sorted(told) == sorted([appointee.id, world.a.lead.id])
    # Decided once: a second click finds nothing left to decide.
    assert login_as(world.admin).post(f"/memberships/{membership_id}/confirm").status_code == 404
    assert db.session.get(Membership, membership_id) is None


def test_a_lead_appointed_by_the_platform_admin_is_confirmed_at_once(app, world):
    appointee = appoint_by_link(app, world.admin, world.a.alliance, "赵丽华", "13955550003", waits=False)

    assert not pending(appointee).pending
    assert authz.can(appointee, "approve_expense", world.a.alliance)
    ((actor, _id, details),) = events("lead_appointed")
    assert (actor, details["pending"]) == (world.admin.id, False)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == world.a.officer.id)) == 0


def test_the_alliance_page_shows_pending_leads_and_the_buttons_only_to_who_may_decide(app, world):
    appoint_by_link(app, world.a.lead, world.a.alliance, "王小二", "13955550001")
    url = f"/alliances/{world.a.alliance.id}"
    for user, decides in ((world.admin, True), (world.a.officer, True), (world.a.lead, False),
                          (world.a.treasurer, False)):
        body = page(login_as(user).get(url))
        assert 'data-testid="appointment-pending"' in body, user.name
        assert ("/confirm" in body) == decides, user.name


@pytest.mark.postgres_only
def test_a_confirmation_and_a_refusal_at_the_same_moment_decide_once(app, world):
    """The officer confirms while an admin declines: exactly one of them decides, the other is told so."""
    appointee = appoint_by_link(app, world.a.lead, world.a.alliance, "王小二", "13955550001")
    membership_id, officer_id, admin_id = pending(appointee).id, world.a.officer.id, world.admin.id

    results = at_once(
        app,
        lambda: services.confirm_lead(db.session.get(User, officer_id), db.session.get(Membership, membership_id)),
        lambda: services.decline_lead(db.session.get(User, admin_id), db.session.get(Membership, membership_id)),
    )

    assert sum(isinstance(r, DomainError) for r in results) == 1
    decided = events("lead_confirmed") + events("lead_declined")
    assert len(decided) == 1
    membership = db.session.get(Membership, membership_id)
    assert (membership is not None and not membership.pending) == isinstance(results[1], DomainError)
