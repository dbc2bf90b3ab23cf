"""Every form that creates something is safe to send twice, and two people pressing at once never break a rule.

A double tap on a slow phone sends the same form twice; a resend after a timeout sends it again later.
Either way there is one record, and no error page. On PostgreSQL the same holds for requests that
really run at the same moment, and the photos of the record that was kept are all there afterwards.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Alliance, Role, Street, User
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import services as fund_services
from merchant_alliance.funds.models import ExpenseRequest, Fund, LedgerEntry
from merchant_alliance.once import FORM_EXPIRED, FormSubmission
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Comment, DesignVersion, Project, ProjectState
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.storage.backends import get_storage
from tests.concurrency import browsers_at_once
from tests.factories import user_with_role
from tests.helpers import login_as
from tests.projects.helpers import DESIGN, SIGNBOARD, fresh_jpeg, put_in_state

CSV = "店名,门牌号\n新开的面包房,1201\n街角花店,1203\n".encode()


def jpeg(name: str = "photo.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(fresh_jpeg()), name


def rows(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def form_key(page: str) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)


@dataclass
class CreateForm:
    """One form that creates something: who sends it, where, with what, and what it makes."""

    name: str
    user: Callable[[Any], User]
    page: Callable[[Any], str]  # the page with the form (its one-time key is read from there)
    post: Callable[[Any], str]
    data: Callable[[Any], dict[str, Any]]
    model: Any
    setup: Callable[[Any], None] = lambda world: None


def _signboard(world) -> Signboard:
    signboard = register_signboard(world.a.owner, world.a.shop, SIGNBOARD)
    db.session.commit()
    return signboard


def _project(world) -> Project:
    project = projects.propose_renovation(world.a.owner, _signboard(world), "咖啡馆木质新店招")
    db.session.commit()
    return project


def _design_form() -> dict[str, Any]:
    return {"sign_type": DESIGN["sign_type"].value, "width_m": "5.00", "height_m": "0.90", "projection_m": "0.30",
            "clearance_m": "2.80", "materials": "铝板", "estimated_cost": "12,000", "mockups": [jpeg("设计稿.jpg")],
            "current": [jpeg("现状.jpg")]}


SIGNBOARD_FORM = {"position": "正门上方", "sign_type": "wall_parallel", "width_m": "5.20", "height_m": "1.00",
                  "projection_m": "0.40", "clearance_m": "2.60", "material": "铁皮", "install_year": "2009",
                  "condition": "worn"}

CREATE_FORMS = [
    CreateForm("street", lambda w: w.admin, lambda w: "/streets", lambda w: "/streets",
               lambda w: {"name": "南京西路街道", "district": "静安区"}, Street),
    CreateForm("alliance", lambda w: w.admin, lambda w: f"/streets/{w.a.street.id}",
               lambda w: f"/streets/{w.a.street.id}", lambda w: {"name": "延安西路商家联盟", "road": "延安西路"},
               Alliance),
    CreateForm("shop", lambda w: w.a.lead, lambda w: f"/alliances/{w.a.alliance.id}/shops/new",
               lambda w: f"/alliances/{w.a.alliance.id}/shops/new",
               lambda w: {"name": "新开的面包房", "house_number": "1201"}, Shop),
    CreateForm("signboard", lambda w: w.a.owner, lambda w: f"/shops/{w.a.shop.id}/signboards/new",
               lambda w: f"/shops/{w.a.shop.id}/signboards/new",
               lambda w: {**SIGNBOARD_FORM, "photos": [jpeg("现状.jpg")]}, Signboard),
    CreateForm("proposal", lambda w: w.a.owner, lambda w: f"/shops/{w.a.shop.id}/projects/new",
               lambda w: f"/shops/{w.a.shop.id}/projects/new",
               lambda w: {"signboard_id": str(w.signboard.id), "title": "咖啡馆木质新店招"}, Project,
               setup=lambda w: setattr(w, "signboard", _signboard(w))),
    CreateForm("design version", lambda w: w.a.owner, lambda w: f"/projects/{w.project.id}/versions/new",
               lambda w: f"/projects/{w.project.id}/versions/new", lambda w: _design_form(), DesignVersion,
               setup=lambda w: setattr(w, "project", _project(w))),
    CreateForm("comment", lambda w: w.a.owner, lambda w: f"/projects/{w.project.id}",
               lambda w: f"/projects/{w.project.id}/comments",
               lambda w: {"body": "颜色能再暖一点吗？", "photos": [jpeg()]}, Comment,
               setup=lambda w: setattr(w, "project", _project(w))),
    CreateForm("fund", lambda w: w.a.lead, lambda w: f"/alliances/{w.a.alliance.id}/fund",
               lambda w: f"/alliances/{w.a.alliance.id}/funds", lambda w: {"name": "备用金"}, Fund),
]


@pytest.mark.parametrize("form", CREATE_FORMS, ids=[form.name for form in CREATE_FORMS])
def test_a_form_sent_twice_creates_one_record_and_no_error(app, world, form):
    """The same form, sent twice (the second time as a resend, after the first was saved), makes one record."""
    form.setup(world)
    browser = login_as(form.user(world))
    page = browser.get(form.page(world))
    assert page.status_code == 200
    key = form_key(page.get_data(as_text=True))
    before = rows(form.model)
    responses = [browser.post(form.post(world), data={**form.data(world), "idempotency_key": key},
                              content_type="multipart/form-data") for _ in range(2)]
    assert [r.status_code for r in responses] == [302, 302], [r.get_data(as_text=True)[:2000] for r in responses]
    assert responses[0].location == responses[1].location  # the second lands where the first did
    assert rows(form.model) == before + 1
    assert rows(FormSubmission) == 1


def test_a_csv_import_confirmed_twice_imports_once(app, world):
    browser = login_as(world.a.lead)
    url = f"/alliances/{world.a.alliance.id}/shops/import"
    preview = browser.post(url, data={"file": (io.BytesIO(CSV), "shops.csv")}, content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    key = form_key(page)
    content = re.search(r'name="content" type="hidden" value="([^"]*)"', page).group(1)
    before = rows(Shop)
    for _ in range(2):
        response = browser.post(url, data={"step": "confirm", "content": content.replace("&#10;", "\n"),
                                           "idempotency_key": key})
        assert response.status_code == 302
    assert rows(Shop) == before + 2
    assert "already been imported" in browser.get(response.location).get_data(as_text=True)


def test_a_form_key_cannot_be_replayed_by_someone_else(app, world):
    """A one-time key names its sender: another user sending it is told the form has expired, and gets nothing."""
    signboard = _signboard(world)
    project = projects.propose_renovation(world.a.owner, signboard, "咖啡馆木质新店招", idempotency_key="k" * 32)
    other = world.a.lead
    with pytest.raises(DomainError) as refused:
        projects.propose_renovation(other, signboard, "别人的", idempotency_key="k" * 32)
    assert refused.value.message is FORM_EXPIRED
    assert rows(Project) == 1 and project.created_by_id == world.a.owner.id


def test_the_database_allows_one_open_proposal_per_signboard(app, world):
    """Even written past the service, a second open proposal for one signboard is refused by the database."""
    from sqlalchemy.exc import IntegrityError

    project = _project(world)
    db.session.add(Project(shop_id=project.shop_id, alliance_id=project.alliance_id, signboard_id=project.signboard_id,
                           title="第二个", created_by_id=world.a.owner.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    put_in_state(project, ProjectState.WITHDRAWN)
    db.session.commit()
    again = projects.propose_renovation(world.a.owner, project.signboard, "重新申请")
    assert again.state == ProjectState.DRAFT  # once the first has ended, a new one may start


# --- At the same moment, on PostgreSQL -------------------------------------------------------------


def readable(app, browser, photo: Photo) -> bool:
    response = browser.get(f"/photos/{photo.id}/display", buffered=True)
    return response.status_code == 200 and response.data == get_storage().get(photo.display_key)


@pytest.mark.postgres_only
@pytest.mark.parametrize("trial", range(3))
def test_a_payment_sent_twice_at_once_with_its_receipt_keeps_one_entry_and_its_receipt(app, world, trial):
    """The treasurer's double tap: two posts of one form with one receipt photo, at the same instant."""
    fund = fund_services.default_fund(world.a.alliance)
    db.session.commit()
    url = f"/alliances/{world.a.alliance.id}/fund/record"
    receipt = fresh_jpeg()
    data = {"kind": "donation", "amount": "500", "counterparty": "愚园路居委会", "method": "bank_transfer",
            "idempotency_key": f"double-tap-{trial}"}

    responses = browsers_at_once(app, [world.a.treasurer.id] * 4, lambda browser, _: browser.post(
        url, data={**data, "receipt": (io.BytesIO(receipt), "收据.jpg")}, content_type="multipart/form-data"))

    assert [getattr(r, "status_code", r) for r in responses] == [302] * 4
    db.session.rollback()
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.fund_id == fund.id)).all()
    assert len(entries) == 1 and entries[0].receipt_photo_id is not None
    photo = db.session.get(Photo, entries[0].receipt_photo_id)
    assert readable(app, login_as(world.a.treasurer), photo)
    assert rows(Photo) == 1  # the losers' photos were rolled back with their requests …
    stored = {item.key for item in get_storage().list("photos/")}
    assert stored == {photo.display_key, photo.thumb_key}  # … and their files with them


@pytest.mark.postgres_only
def test_an_expense_request_sent_twice_at_once_keeps_one_request_with_all_its_receipts(app, world):
    fund = fund_services.default_fund(world.a.alliance)
    db.session.commit()
    url = f"/alliances/{world.a.alliance.id}/fund/expenses/new"
    receipts = [fresh_jpeg(), fresh_jpeg()]
    data = {"payee": "鑫达广告工程部", "amount": "800", "purpose": "宣传栏维修", "project_id": "0",
            "idempotency_key": "double-tap-expense"}

    responses = browsers_at_once(app, [world.a.treasurer.id] * 4, lambda browser, _: browser.post(
        url, data={**data, "receipts": [(io.BytesIO(r), f"收据{i}.jpg") for i, r in enumerate(receipts)]},
        content_type="multipart/form-data"))

    assert [getattr(r, "status_code", r) for r in responses] == [302] * 4
    requests = db.session.scalars(select(ExpenseRequest).where(ExpenseRequest.fund_id == fund.id)).all()
    assert len(requests) == 1 and len(requests[0].receipts) == 2
    browser = login_as(world.a.lead)
    assert all(readable(app, browser, photo) for photo in requests[0].receipts)
    assert rows(Photo) == 2


@pytest.mark.postgres_only
@pytest.mark.parametrize("form", [f for f in CREATE_FORMS if f.name != "fund"], ids=lambda f: f.name)
def test_a_create_form_sent_several_times_at_once_creates_one_record(app, world, form):
    form.setup(world)
    key = f"at-once-{form.name.replace(' ', '-')}"
    before = rows(form.model)
    responses = browsers_at_once(app, [form.user(world).id] * 4, lambda browser, _: browser.post(
        form.post(world), data={**form.data(world), "idempotency_key": key}, content_type="multipart/form-data"))
    assert [getattr(r, "status_code", r) for r in responses] == [302] * 4
    assert len({r.location for r in responses}) == 1
    assert rows(form.model) == before + 1


@pytest.mark.postgres_only
def test_two_owners_proposing_for_one_signboard_at_once_get_one_open_proposal(app, world):
    """Two different forms (two owners of the shop), one signboard: the rule holds, the other is told why."""
    signboard = _signboard(world)
    co_owner = user_with_role(Role.SHOP_OWNER, shop=world.a.shop)
    db.session.commit()
    url = f"/shops/{world.a.shop.id}/projects/new"
    responses = browsers_at_once(app, [world.a.owner.id, co_owner.id] * 3, lambda browser, i: browser.post(
        url, data={"signboard_id": str(signboard.id), "title": f"方案{i}", "idempotency_key": f"owner-{i}"}))
    statuses = [getattr(r, "status_code", r) for r in responses]
    assert all(status in (200, 302) for status in statuses), statuses
    assert statuses.count(302) == 1  # the winner goes on to its design; the others see the form with the reason
    assert rows(Project) == 1


@pytest.mark.postgres_only
def test_versions_added_at_once_get_numbers_one_after_another(app, world):
    project = _project(world)
    url = f"/projects/{project.id}/versions/new"
    responses = browsers_at_once(app, [world.a.owner.id] * 3, lambda browser, i: browser.post(
        url, data={**_design_form(), "idempotency_key": f"version-{i}"}, content_type="multipart/form-data"))
    assert [getattr(r, "status_code", r) for r in responses] == [302] * 3
    numbers = db.session.scalars(select(DesignVersion.number).where(DesignVersion.project_id == project.id)
                                 .order_by(DesignVersion.number)).all()
    assert numbers == [1, 2, 3]


def test_an_invitation_sent_twice_is_one_invitation_with_one_link_and_one_email(app, world, outbox):
    """The second answer shows the same link (the first answer's page was lost to the double tap)."""
    from merchant_alliance.accounts.models import Invitation

    browser = login_as(world.a.lead)
    url = f"/alliances/{world.a.alliance.id}/invite"
    key = form_key(browser.get(url).get_data(as_text=True))
    data = {"role": "treasurer", "name": "钱会计", "email": "qian@yuyuan.example", "idempotency_key": key}
    pages = [browser.post(url, data=data).get_data(as_text=True) for _ in range(2)]
    links = [re.search(r"(http://localhost/invite/[\w-]+)", page).group(1) for page in pages]
    assert links[0] == links[1]
    assert rows(Invitation) == 1
    assert len(outbox) == 1 and links[0] in outbox[0].get_content()
    anonymous = login_as(None)
    assert anonymous.get(links[0].removeprefix("http://localhost")).status_code == 200  # the link works


@pytest.mark.postgres_only
def test_two_first_edits_of_the_guidelines_at_once_both_apply_one_after_the_other(app, world):
    """Before the street office saved any guidelines there is no row: the first two edits must not both insert one."""
    from merchant_alliance.projects.models import DesignGuideline

    url = f"/streets/{world.a.street.id}/guidelines"
    base = {"max_width_share": "0.90", "max_height_m": "1.20", "max_projection_wall_m": "0.50",
            "max_projection_projecting_m": "1.50", "min_clearance_m": "3.00"}
    responses = browsers_at_once(app, [world.a.officer.id] * 2, lambda browser, i: browser.post(
        url, data={**base, "max_height_m": f"1.{i + 3}0"}))
    assert [getattr(r, "status_code", r) for r in responses] == [302, 302]
    assert rows(DesignGuideline) == 1
