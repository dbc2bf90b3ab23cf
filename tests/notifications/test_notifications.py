"""In-app notifications: the bell, the list, opening and marking read, in the reader's language."""

from __future__ import annotations

import html
import re

from flask_babel import force_locale, gettext
from sqlalchemy import select

from merchant_alliance.accounts import services as accounts
from merchant_alliance.accounts.models import Role
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications import services
from merchant_alliance.notifications.models import Notification
from tests.helpers import login_as

COMMENTED = N_("%(name)s commented on “%(title)s”.")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def in_language(locale: str, message: str, **params) -> str:
    with force_locale(locale):
        return gettext(message, **params)


def bell(client) -> int:
    """The unread count on the bell in the page header (0 when the badge is not shown)."""
    match = re.search(r'data-testid="unread-count">(\d+)<', client.get("/").get_data(as_text=True))
    return int(match.group(1)) if match else 0


def note_for(user, title: str = "新店招", target: services.Target | None = None, legacy_link: str = "") -> Notification:
    """A notification to `user`, pointing at `target`; `legacy_link` is a URL stored the way notifications
    made before endpoints were stored it."""
    (note,) = services.notify([user.id], COMMENTED, target, name="王店主", title=title)
    note.link = legacy_link
    db.session.commit()
    return note


def is_read(note: Notification) -> bool:
    db.session.refresh(note)
    return note.read_at is not None


def test_notify_queues_one_message_per_person_saved_with_the_callers_commit(world):
    notes = services.notify([world.a.lead.id, world.a.lead.id, world.a.treasurer.id], COMMENTED,
                            name="王店主", title="新店招")
    assert len(notes) == 2
    db.session.rollback()
    assert db.session.scalars(select(Notification)).all() == []  # nothing without the caller's commit

    services.notify([world.a.lead.id], COMMENTED, name="王店主", title="新店招")
    db.session.commit()
    assert services.unread_count(world.a.lead.id) == 1 and services.unread_count(world.a.treasurer.id) == 0
    assert services.mark_read(world.a.treasurer.id) == 0
    assert services.mark_read(world.a.lead.id) == 1
    assert services.unread_count(world.a.lead.id) == 0


def test_bell_counts_unread_notifications_and_the_list_shows_them(client, world):
    note_for(world.a.lead, "木质新店招")
    note_for(world.a.lead, "霓虹灯招牌")
    note_for(world.a.treasurer, "财务不该看到的")

    login_as(world.a.lead, client)
    assert bell(client) == 2
    page = text(client.get("/notifications"))
    for title in ("木质新店招", "霓虹灯招牌"):
        assert in_language("zh_CN", COMMENTED, name="王店主", title=title) in page
    assert "财务不该看到的" not in page
    assert page.count(in_language("zh_CN", "unread")) >= 2
    assert 'action="/notifications/read-all"' in page
    client.post("/logout")

    login_as(world.a.owner, client)
    assert bell(client) == 0
    page = text(client.get("/notifications"))
    assert in_language("zh_CN", "No notifications yet.") in page
    assert 'action="/notifications/read-all"' not in page


def test_opening_a_notification_marks_it_read_and_goes_to_its_page_on_this_site_only(client, world):
    on_site = note_for(world.a.lead, target=services.page("alliances.alliance", alliance_id=world.a.alliance.id))
    legacy = note_for(world.a.lead, legacy_link=f"/shops/{world.a.shop.id}")
    off_site = note_for(world.a.lead, legacy_link="https://evil.example/phish")
    protocol_relative = note_for(world.a.lead, legacy_link="//evil.example")
    gone = note_for(world.a.lead, target=services.page("no.such_page", thing=1))
    without_link = note_for(world.a.lead)
    login_as(world.a.lead, client)

    expected = [(on_site, f"/alliances/{world.a.alliance.id}"), (legacy, f"/shops/{world.a.shop.id}"),
                (off_site, "/"), (protocol_relative, "/"), (gone, "/notifications"), (without_link, "/notifications")]
    for remaining, (note, target) in zip((5, 4, 3, 2, 1, 0), expected, strict=True):
        response = client.post(f"/notifications/{note.id}/open")
        assert response.status_code == 302 and response.location == target
        assert is_read(note)
        assert bell(client) == remaining

    # Opening it again is harmless.
    assert client.post(f"/notifications/{on_site.id}/open").status_code == 302


def test_read_all_marks_only_my_own_notifications(client, world):
    mine = [note_for(world.a.lead), note_for(world.a.lead)]
    theirs = note_for(world.a.treasurer)
    login_as(world.a.lead, client)

    response = client.post("/notifications/read-all")

    assert response.status_code == 302 and response.location == "/notifications"
    assert all(is_read(note) for note in mine)
    assert not is_read(theirs)
    assert bell(client) == 0
    for target, location in (("/alliances/1", "/alliances/1"), ("//evil.example", "/notifications")):
        assert client.post("/notifications/read-all", data={"next": target}).location == location


def test_another_persons_notification_cannot_be_opened_or_marked(client, world):
    theirs = note_for(world.b.lead, title="乙方秘密", target=services.page("alliances.alliance", alliance_id=2))
    login_as(world.a.lead, client)

    response = client.post(f"/notifications/{theirs.id}/open")
    assert response.status_code == 404
    assert "乙方秘密" not in text(response)
    assert client.post(f"/notifications/{theirs.id + 1000}/open").status_code == 404
    assert client.get(f"/notifications/{theirs.id}/open").status_code == 405
    assert not is_read(theirs)

    client.post("/logout")
    response = client.post(f"/notifications/{theirs.id}/open")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert not is_read(theirs)


def test_messages_are_shown_in_the_readers_language(client, world):
    _invitation, token = accounts.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    accounts.accept_invitation(token, name="赵会计", phone="13911112222", password="Plane-Tree-2026")
    login_as(world.a.lead, client)

    chinese = in_language("zh_CN", "%(name)s accepted your invitation as %(role)s.", name="赵会计",
                          role=in_language("zh_CN", "Alliance treasurer"))
    assert chinese in text(client.get("/notifications"))
    assert "treasurer" not in chinese  # the role is named in words, not by its code

    client.post("/language", data={"lang": "en"})
    assert "赵会计 accepted your invitation as Alliance treasurer." in text(client.get("/notifications"))

    client.post("/language", data={"lang": "zh_CN"})
    assert chinese in text(client.get("/notifications"))
