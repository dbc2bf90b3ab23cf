"""Single-use links are used once, whatever arrives at the same moment: an invitation makes one account,
a reset link changes the password once, and a revoked invitation is never also accepted."""

from __future__ import annotations

import html

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import Invitation, Membership, Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from tests.concurrency import at_once, while_held
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.postgres_only  # real concurrency: each request in its own thread and session

USED = "This invitation link is invalid, expired, revoked or already used."
RESET_USED = "This password reset link is invalid, expired or already used."


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def zh(message: str) -> str:
    with force_locale("zh_CN"):
        return gettext(message)


def post(app, path: str, data: dict):
    """A POST from a browser of its own (a new test client), as a separate person would send it."""
    def send():
        response = app.test_client().post(path, data=data)
        return response.status_code, response.location, html.unescape(response.get_data(as_text=True))
    return send


def test_five_people_posting_one_invitation_link_at_once_make_one_account(app, world):
    """The probe posted each link five times at once and got three accounts from one link. Now one post
    wins; the other four are told the link is used and leave no account, no role, no event behind."""
    invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    users, memberships, events = count(User), count(Membership), count(AuditEvent)
    posts = [post(app, f"/invite/{token}", {"name": f"会计{n}", "phone": f"1391111000{n}", "password": "Ledger-Book-77",
                                             "confirm": "Ledger-Book-77"}) for n in range(5)]

    answers = at_once(app, *posts)

    winners = [a for a in answers if a[0] == 302]
    assert len(winners) == 1 and winners[0][1] == "/"
    for status, _location, body in (a for a in answers if a[0] != 302):
        assert status == 410 or zh(USED) in body  # refused before or after the winner committed
    assert (count(User), count(Membership)) == (users + 1, memberships + 1)
    new = db.session.scalars(select(User).where(User.id.not_in([u.id for u in vars(world.a).values()
                                                                  if isinstance(u, User)]))
                             .order_by(User.id.desc())).first()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.status == "accepted" and invitation.accepted_by_id == new.id
    assert [m.role for m in new.memberships] == [Role.TREASURER]
    assert count(AuditEvent) == events + 2  # one account_created, one invitation_accepted


def test_a_reset_link_used_twice_at_once_changes_the_password_once(app, client, outbox):
    """Two tabs (or a thief and the owner) send the same reset link at the same moment with different
    passwords: one is set, the other is refused, and exactly one reset is in the audit log."""
    user = UserFactory(email="chen@yuyuan.example")
    client.post("/password/forgot", data={"email": user.email})
    link = "/password/reset/" + outbox[0].get_content().split("/password/reset/")[1].split()[0]
    passwords = [f"Plane-Tree-202{n}" for n in range(4)]

    answers = at_once(app, *[post(app, link, {"new_password": p, "confirm": p}) for p in passwords])

    assert [location for _status, location, _body in answers].count("/login") == 1
    for _status, location, body in answers:
        assert location == "/login" or location == "/password/forgot" or zh(RESET_USED) in body
    works = [p for p in passwords if services.authenticate(user.phone, p) is not None]
    assert len(works) == 1 and services.authenticate(user.phone, PASSWORD) is None
    assert count(AuditEvent, AuditEvent.action == "password_reset") == 1


def test_an_invitation_revoked_and_accepted_at_the_same_moment_ends_up_one_or_the_other(app, world):
    """The lead revokes while the invitee accepts: either the acceptance wins (and the revocation is refused)
    or the revocation wins (and no account is made). Never an account from a revoked invitation."""
    lead_id = world.a.lead.id
    for round_ in range(6):
        invitation, token = services.invite(world.a.lead, Role.CONTRACTOR, alliance=world.a.alliance)
        users = count(User)

        accepted, revoked = at_once(
            app,
            lambda token=token, phone=f"1392222000{round_}": services.accept_invitation(
                token, name="刘师傅", phone=phone, password="Ladder-Rope-88"),
            lambda invitation_id=invitation.id: services.revoke_invitation(
                db.session.get(User, lead_id), db.session.get(Invitation, invitation_id)),
        )

        invitation = db.session.get(Invitation, invitation.id)
        assert (invitation.accepted_at is None) != (invitation.revoked_at is None), round_
        if invitation.accepted_at:
            assert isinstance(revoked, DomainError) and isinstance(accepted, User)
            assert count(User) == users + 1
        else:
            assert isinstance(accepted, DomainError) and revoked is None
            assert count(User) == users


def test_two_tabs_changing_the_password_at_once_change_it_once(app, monkeypatch):
    """Both tabs type the right current password; the second to arrive finds it is no longer current,
    even when it checked the password before the first had saved the new one."""
    user = UserFactory()
    user_id = user.id

    def change(new: str):
        return lambda: services.change_password(db.session.get(User, user_id), PASSWORD, new)

    outcome = while_held(app, monkeypatch, change("Plane-Tree-2026"), change("Maple-Leaf-2027"))

    assert outcome.first is None and isinstance(outcome.second, DomainError)
    assert count(AuditEvent, AuditEvent.action == "password_changed") == 1
    assert services.authenticate(user.phone, "Plane-Tree-2026") is not None
    assert services.authenticate(user.phone, "Maple-Leaf-2027") is None
