"""The safety pages as people use them: the officer answers the checklist item by item on the inspection page,
the shop reports fixes, the certificate and its tag print, and the public page its QR opens shows nothing
private. Wrong people get what a made-up id gets."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.safety import inspections
from merchant_alliance.safety.models import Certificate, Inspection, InspectionState, Outcome, RectificationOrder
from tests.helpers import counted_queries, first_screen, login_as
from tests.projects.helpers import fresh_jpeg, text_of
from tests.safety.test_inspections import answer_all, installed


def photo(name: str = "现场.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(fresh_jpeg()), name


def post_answer(client, inspection, code, outcome, note="", photos=(), revision=0):
    data = {f"{code}-outcome": outcome, f"{code}-finding": note, f"{code}-seen_revision": str(revision),
            f"{code}-photos": list(photos)}
    return client.post(f"/inspections/{inspection.id}/answers/{code}", data=data,
                       content_type="multipart/form-data")


def started(world):
    project = installed(world)
    client = login_as(world.a.officer)
    response = client.post(f"/projects/{project.id}/inspections", data={})
    assert response.status_code == 302
    inspection = db.session.scalar(select(Inspection).where(Inspection.project_id == project.id))
    assert response.headers["Location"].endswith(f"/inspections/{inspection.id}")
    return project, inspection, client


def test_the_officer_answers_item_by_item_and_a_failed_critical_item_fails_the_inspection(app, world):
    project, inspection, client = started(world)
    page = text_of(client.get(f"/inspections/{inspection.id}"))
    assert "S05" in page and "S12" not in page  # a plain wall sign: no wiring items
    response = post_answer(client, inspection, "S05", "fail", "螺栓松动", [photo()])
    assert response.status_code == 302 and response.headers["Location"].endswith("#q-S05")
    page = text_of(client.get(f"/inspections/{inspection.id}"))
    assert 'data-testid="answer-S05"' in page and "螺栓松动" in page and 'data-testid="will-fail"' in page
    answer_all(world.a.officer, inspection, failing={"S05": "螺栓松动"})
    response = client.post(f"/inspections/{inspection.id}/finish", data={"summary": "请48小时内整改"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state.value == "failed"
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    owner = login_as(world.a.owner)
    page = text_of(owner.get(f"/rectifications/{order.id}"))
    assert "螺栓松动" in page and 'data-action="fixed-S05"' in page
    item = order.items[0]
    response = owner.post(f"/rectifications/{order.id}/items/{item.id}/fixed",
                          data={f"fix{item.id}-fixed_note": "已紧固", f"fix{item.id}-photos": [photo()]},
                          content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(RectificationOrder, order.id).state.value == "fixed"


def test_a_bad_answer_is_refused_with_a_message_and_saves_nothing(app, world):
    _, inspection, client = started(world)
    response = post_answer(client, inspection, "S05", "maybe")
    assert response.status_code == 302
    assert "Choose pass, fail or not applicable." in text_of(client.get(f"/inspections/{inspection.id}"))
    response = post_answer(client, inspection, "S99", "pass")
    assert response.status_code == 302
    assert not db.session.scalars(select(Inspection.answers.property.mapper.class_)).all()


def test_finishing_too_early_says_what_is_missing(app, world):
    _, inspection, client = started(world)
    client.post(f"/inspections/{inspection.id}/finish", data={})
    page = text_of(client.get(f"/inspections/{inspection.id}"))
    assert "Answer every item first" in page
    assert db.session.get(Inspection, inspection.id).state.value == "open"


@pytest.mark.parametrize("who", ["other_officer", "owner", "lead", "anonymous"])
def test_only_the_streets_officer_answers(app, world, who):
    _, inspection, _ = started(world)
    user = {"other_officer": world.b.officer, "owner": world.a.owner, "lead": world.a.lead, "anonymous": None}[who]
    client = login_as(user)
    response = post_answer(client, inspection, "S01", "pass")
    assert response.status_code in {"other_officer": (404,), "owner": (403,), "lead": (403,),
                                    "anonymous": (302,)}[who]
    if who == "other_officer":  # the same as for an inspection that does not exist
        assert client.get(f"/inspections/{inspection.id}").status_code == 404
        assert client.get("/inspections/999999").status_code == 404
    assert not inspection.answers


def test_the_shop_sees_its_own_results_and_another_shop_does_not(app, world):
    _, inspection, _ = started(world)
    assert login_as(world.a.owner).get(f"/inspections/{inspection.id}").status_code == 200
    assert login_as(world.b.owner).get(f"/inspections/{inspection.id}").status_code == 404
    page = text_of(login_as(world.a.owner).get(f"/inspections/{inspection.id}"))
    assert 'data-action="save-' not in page  # no answer forms for the shop


def certified(world):
    project = installed(world)
    officer = world.a.officer
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection)
    inspections.finish(officer, inspection)
    return db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))


def test_the_certificate_and_its_tag_print_with_a_qr_code_of_the_public_page(app, world):
    certificate = certified(world)
    client = login_as(world.a.owner)
    page = text_of(client.get(f"/certificates/{certificate.id}"))
    assert certificate.serial in page and "<svg" in page and f"/tags/{certificate.token}" in page
    tag = text_of(client.get(f"/certificates/{certificate.id}/tag"))
    assert "招牌安全标识" in tag and "<svg" in tag and certificate.serial in tag
    assert login_as(world.b.owner).get(f"/certificates/{certificate.id}").status_code == 404


def test_the_public_tag_page_shows_the_status_and_nothing_private(app, world):
    certificate = certified(world)
    response = login_as(None).get(f"/tags/{certificate.token}")
    assert response.status_code == 200
    page = text_of(response)
    assert 'data-testid="tag-status">Safe<' in page
    assert certificate.shop.name in page and certificate.serial in page
    private = [world.a.officer.name, world.a.officer.phone, world.a.owner.name, world.a.owner.phone,
               world.a.shop.contact_phone, world.a.shop.licence_number, "/inspections/", "/certificates/",
               "/projects/", "/shops/"]
    for value in filter(None, private):
        assert value not in page, value
    photos = re.findall(r'src="(/photos/\d+/display)"', page)
    served = login_as(None).get(photos[0])
    served.close()
    assert photos and served.status_code == 200  # the sign's photo, made public
    assert login_as(None).get(f"/tags/{certificate.token[:-1]}x").status_code == 404
    assert login_as(None).get("/tags/" + "a" * 65).status_code == 404


def test_a_revoked_certificate_says_so_on_its_public_page(app, world):
    certificate = certified(world)
    client = login_as(world.a.officer)
    assert login_as(world.a.owner).post(f"/certificates/{certificate.id}/revoke",
                                        data={"reason": "x"}).status_code == 403
    client.post(f"/certificates/{certificate.id}/revoke", data={"reason": "面板开裂，需重新检测"})
    page = text_of(login_as(None).get(f"/tags/{certificate.token}"))
    assert 'data-testid="tag-status">Certificate revoked<' in page


def test_the_officers_home_lists_what_waits_in_a_constant_number_of_queries(app, world):
    client = login_as(world.a.officer)
    installed(world)

    def queries() -> int:
        with counted_queries() as statements:
            assert client.get("/").status_code == 200
        return len(statements)

    few = queries()
    page = text_of(client.get("/"))
    assert 'data-testid="to-inspect"' in page and world.a.shop.name in page
    certified(world)
    for shop in (world.a.other_shop,):
        project = installed_for(world, shop)
        inspection = inspections.start_for_project(world.a.officer, project)
        inspections.save_answer(world.a.officer, inspection, "S01", Outcome.PASS)
    assert queries() == few
    assert 'data-testid="to-inspect"' not in text_of(login_as(world.b.officer).get("/"))


def installed_for(world, shop):
    from merchant_alliance.accounts.models import Role
    from merchant_alliance.projects.models import ProjectState
    from tests.factories import user_with_role
    from tests.fixtures.projects import make_project
    from tests.projects.helpers import put_in_state

    owner = user_with_role(Role.SHOP_OWNER, shop=shop)
    db.session.commit()
    project = make_project(ProjectState.DESIGN_APPROVED, by=owner, shop=shop, title="另一块新店招")
    put_in_state(project, ProjectState.INSTALLED)
    db.session.commit()
    return project


def queries_for(client, path: str) -> int:
    with counted_queries() as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def test_the_inspection_and_rectification_pages_issue_as_many_queries_for_many_answers_as_for_few(app, world):
    _, inspection, client = started(world)
    path = f"/inspections/{inspection.id}"
    inspections.save_answer(world.a.officer, inspection, "S01", Outcome.PASS)  # (with none, no photos to load)
    few = queries_for(client, path)
    many_fail = {"S04": "墙体空鼓", "S05": "螺栓松动", "S08": "锈蚀", "S09": "倾斜", "S16": "遮挡消防窗"}
    answer_all(world.a.officer, inspection, failing=many_fail)
    assert queries_for(client, path) == few  # every answer, with its photos
    inspections.finish(world.a.officer, inspection)
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    owner = login_as(world.a.owner)
    rectification = f"/rectifications/{order.id}"
    many = queries_for(owner, rectification)
    assert len(order.items) == 5
    second = installed_for(world, world.a.other_shop)
    other = inspections.start_for_project(world.a.officer, second)
    answer_all(world.a.officer, other, failing={"S05": "螺栓松动"})
    inspections.finish(world.a.officer, other)
    one = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == other.id))
    assert queries_for(login_as(world.a.lead), f"/rectifications/{one.id}") == many


def test_the_rectification_page_opens_with_what_is_left_to_fix_and_each_persons_next_step(app, world):
    """The shop reads which items are still to fix and jumps to the first; the officer waits for them, and once
    every item is reported fixed, starts the re-inspection from the first screen."""
    _, inspection, officer = started(world)
    answer_all(world.a.officer, inspection, failing={"S05": "螺栓松动", "S02": "面板开裂"})
    inspections.finish(world.a.officer, inspection)
    db.session.commit()
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    url, owner = f"/rectifications/{order.id}", login_as(world.a.owner)
    first = order.items[0]
    shop = first_screen(owner.get(url))
    assert "2 items still to fix" in shop and "S02" in shop and "S05" in shop
    assert f'href="#item-{first.code}" data-testid="next-step"' in shop
    waiting = first_screen(officer.get(url))
    assert "next-step" not in waiting and "Report every item fixed" in waiting
    assert officer.get(url).get_data(as_text=True).count('data-action="reinspect"') == 1  # below, if needed early

    for item in order.items:
        owner.post(f"{url}/items/{item.id}/fixed", data={f"fix{item.id}-fixed_note": "已修", f"fix{item.id}-photos":
                                                         [photo()]}, content_type="multipart/form-data")
    reinspect = officer.get(url)
    assert 'data-action="reinspect"' in first_screen(reinspect) and "still to fix" not in first_screen(reinspect)
    assert reinspect.get_data(as_text=True).count('data-action="reinspect"') == 1
    assert "Start the re-inspection" in first_screen(owner.get(url))  # what the shop waits for now


def test_the_officer_sets_a_later_deadline_from_the_rectification_page(app, world):
    from datetime import timedelta

    from merchant_alliance.timeutil import local_today

    _, inspection, client = started(world)
    answer_all(world.a.officer, inspection, failing={"S05": "螺栓松动"})
    inspections.finish(world.a.officer, inspection)
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    later = local_today() + timedelta(days=7)
    assert 'data-action="deadline"' in text_of(client.get(f"/rectifications/{order.id}"))
    assert 'data-action="deadline"' not in text_of(login_as(world.a.owner).get(f"/rectifications/{order.id}"))
    client.post(f"/rectifications/{order.id}/deadline", data={"deadline": later.isoformat()})
    db.session.expire_all()
    assert db.session.get(RectificationOrder, order.id).deadline == later
    client.post(f"/rectifications/{order.id}/deadline", data={"deadline": "2020-01-01"})
    page = text_of(client.get(f"/rectifications/{order.id}"))
    assert "Choose a day from today to a year from now." in page
    db.session.expire_all()
    assert db.session.get(RectificationOrder, order.id).deadline == later


def test_the_shop_page_shows_each_signs_safety_and_the_officer_starts_a_periodic_inspection(app, world):
    certificate = certified(world)
    owner_page = text_of(login_as(world.a.owner).get(f"/shops/{world.a.shop.id}"))
    assert certificate.serial in owner_page and 'data-action="start-periodic-' not in owner_page
    officer = login_as(world.a.officer)
    page = text_of(officer.get(f"/shops/{world.a.shop.id}"))
    button = f'data-action="start-periodic-{certificate.signboard_id}"'
    assert button in page
    response = officer.post(f"/signboards/{certificate.signboard_id}/inspections", data={})
    inspection = db.session.scalar(select(Inspection).where(Inspection.signboard_id == certificate.signboard_id,
                                                            Inspection.state == InspectionState.OPEN))
    assert inspection.kind.value == "periodic"
    assert response.headers["Location"].endswith(f"/inspections/{inspection.id}")
    assert button not in text_of(officer.get(f"/shops/{world.a.shop.id}"))  # one under way: a link to it
    assert login_as(world.a.owner).post(f"/signboards/{certificate.signboard_id}/inspections").status_code == 403
    assert login_as(world.b.officer).post(f"/signboards/{certificate.signboard_id}/inspections").status_code == 404


def test_the_officers_home_shows_overdue_signs_todays_route_and_new_reports_in_a_constant_number_of_queries(
        app, world):
    """The officer's home gains the registry's and the public's work: signs past their due date (the longest
    overdue first), today's planned inspections, and new hazard reports (urgent first) — the same queries for
    one of each as for many; another street's officer sees none of it."""
    from datetime import timedelta

    from merchant_alliance.safety import registry
    from merchant_alliance.timeutil import local_today
    from tests.reports.reporting import report, sign_on

    today = local_today()
    client = login_as(world.a.officer)

    def overdue(position: str, days: int):
        sign = sign_on(world.a, position)
        sign.last_inspected_on, sign.last_passed = today - timedelta(days=400 + days), True
        sign.next_due_on = today - timedelta(days=days)
        db.session.commit()
        return sign

    def queries() -> int:
        client.get("/")
        db.session.expire_all()
        with counted_queries() as statements:
            assert client.get("/").status_code == 200
        return len(statements)

    late = overdue("正门上方", 10)
    report(world.a, signboard=late, urgent=True)
    registry.plan_periodic(world.a.officer, world.a.alliance, today)
    few = queries()
    page = text_of(client.get("/"))
    for testid in ("overdue-signs", "route-today", "new-reports"):
        assert f'data-testid="{testid}"' in page, testid
    assert f"/signboards/{late.id}/registry" in page and f"/streets/{world.a.street.id}/route" in page

    for n in range(4):
        overdue(f"侧墙{n}", 20 + n)
        report(world.a, house_number=f"{900 + n}", shop_id=None)
    registry.plan_periodic(world.a.officer, world.a.alliance, today)
    assert queries() == few
    page = text_of(client.get("/"))
    assert page.index("侧墙3") < page.index("正门上方")  # the longest overdue first
    other = text_of(login_as(world.b.officer).get("/"))
    assert "侧墙" not in other and f"/signboards/{late.id}/" not in other
