"""The signboard registry: every sign of the street with its risk and its inspection schedule, filtered and paged
most urgent first, its CSV, planning a road's periodic inspections onto a day's route, closing a sign as removed,
and the reminders of signs coming due or overdue.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.safety import certificates, checklists, inspections, registry, registry_queries
from merchant_alliance.safety.models import Certificate, Inspection, InspectionKind, InspectionState, Outcome
from merchant_alliance.safety.registry_queries import Filters, house_key, risk_reasons
from merchant_alliance.shops.models import Risk, Shop, Signboard, SignCondition, SignType
from merchant_alliance.shops.risk import risk_of, risk_points
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.timeutil import local_today, utcnow
from tests.concurrency import at_once
from tests.factories import AllianceFactory, ShopFactory, user_with_role
from tests.helpers import counted_queries, flashed_errors, login_as
from tests.projects.helpers import stored_files, text_of, upload

TODAY = local_today()


@pytest.fixture(autouse=True)
def english(app):
    """The services' refusals are read in English here (the pages choose the language themselves)."""
    with force_locale("en"):
        yield


def wall_sign(shop: Shop, position: str = "正门上方", **values) -> Signboard:
    """A sign straight into the register (as the demo loader and an import do): a small new wall sign unless
    `values` say otherwise, its risk worked out as the shop's form would."""
    sign = Signboard(shop=shop, position=position, sign_type=values.pop("sign_type", SignType.WALL_PARALLEL),
                     width_m=values.pop("width_m", Decimal("2.00")), height_m=values.pop("height_m", Decimal("0.60")),
                     clearance_m=values.pop("clearance_m", Decimal("2.80")),
                     install_year=values.pop("install_year", TODAY.year - 1), **values)
    sign.risk = risk_of(sign, TODAY)
    db.session.add(sign)
    db.session.commit()
    return sign


def registered(owner: User, shop: Shop, **values) -> Signboard:
    """A sign registered by its owner through the shop's service, with a photo."""
    return register_signboard(owner, shop, {
        "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("2.00"),
        "height_m": Decimal("0.60"), "projection_m": Decimal("0.10"), "clearance_m": Decimal("2.80"),
        "material": "铝板", "illuminated": False, "install_year": TODAY.year - 1, "condition": SignCondition.GOOD,
        **values}, [upload(filename="招牌.jpg")])


def inspect(officer: User, sign: Signboard, failing: tuple[str, ...] = ()) -> Inspection:
    """A periodic inspection of the sign, every item passed but `failing`, with photos where asked; finished."""
    inspection = db.session.scalar(select(Inspection).where(
        Inspection.signboard_id == sign.id, Inspection.state == InspectionState.OPEN)) \
        or inspections.start_for_sign(officer, sign)  # the one planned on a route, or a new one
    for question in inspections.questions(inspection):
        if question.required:
            inspections.save_answer(officer, inspection, question.code,
                                    Outcome.FAIL if question.code in failing else Outcome.PASS, "",
                                    [upload(filename=f"{question.code}.jpg")] if question.photo_required else [])
    inspections.finish(officer, inspection)
    return inspection


def shop_on(alliance, house_number: str, name: str | None = None) -> Shop:
    return ShopFactory(alliance=alliance, house_number=house_number, name=name or f"店{house_number}")


# --- risk and schedule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "risk"), [
    ({"sign_type": SignType.PROJECTING}, Risk.HIGH),
    ({}, Risk.LOW),  # a small wall sign put up last year
    ({"illuminated": True, "install_year": TODAY.year - 12}, Risk.HIGH),  # lit and old
    ({"illuminated": True, "install_year": TODAY.year - 7, "width_m": Decimal("3.00"), "height_m": Decimal("1.50")},
     Risk.HIGH),  # lit, ageing and large enough to hurt
    ({"illuminated": True}, Risk.MEDIUM),
    ({"last_passed": False}, Risk.MEDIUM),  # the same small sign, failed at its last inspection
    ({"condition": SignCondition.HAZARDOUS}, Risk.HIGH),
])
def test_a_signs_risk_follows_from_what_it_is_and_its_last_inspection(values, risk):
    """The registry page lists why, and its reasons add up to the sign's points."""
    base = {"sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("2.00"), "height_m": Decimal("0.60"),
            "clearance_m": Decimal("2.80"), "install_year": TODAY.year - 1, "illuminated": False,
            "condition": SignCondition.GOOD, "last_passed": None}
    sign = Signboard(**(base | values))
    assert risk_of(sign, TODAY) == risk
    assert sum(reason.points for reason in risk_reasons(sign, TODAY)) == risk_points(sign, TODAY)


def test_a_passed_inspection_schedules_the_next_after_the_streets_interval_for_the_risk(app, world):
    officer = world.a.officer
    checklists.update_settings(officer, world.a.street, "YYL", 100, 200, 300, 2, 14, 30)
    sign = registered(world.a.owner, world.a.shop)
    assert sign.risk == Risk.LOW and sign.last_inspected_on is None and sign.next_due_on is None

    inspection = inspect(officer, sign)

    db.session.refresh(sign)
    certificate = db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))
    assert (sign.last_inspected_on, sign.last_passed, sign.next_due_on) == (TODAY, True, TODAY + timedelta(300))
    assert certificate.next_due_on == certificate.valid_until == sign.next_due_on
    assert registry.status_of(sign) == "ok"


def test_a_failed_inspection_keeps_the_due_date_and_raises_the_risk(app, world):
    officer = world.a.officer
    sign = registered(world.a.owner, world.a.shop)
    inspect(officer, sign)
    db.session.refresh(sign)
    due = sign.next_due_on

    inspect(officer, sign, failing=("S05",))

    db.session.refresh(sign)
    assert (sign.last_passed, sign.next_due_on, sign.risk) == (False, due, Risk.MEDIUM)


def test_revoking_the_certificate_in_force_makes_the_sign_due_today(app, world):
    sign = registered(world.a.owner, world.a.shop)
    inspection = inspect(world.a.officer, sign)
    certificate = db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))

    certificates.revoke(world.a.officer, certificate, "锚栓松动")

    db.session.refresh(sign)
    assert sign.next_due_on == TODAY and registry.status_of(sign) == "due_soon"


def notices(user: User, fragment: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.message.contains(fragment)))


def test_the_shop_is_reminded_once_and_a_late_sign_is_reported_once(app, world, runner):
    """Run daily: a sign due in ten days reminds its shop once; a sign a day late tells the street's officer and
    the shop once; the second run tells nobody anything."""
    soon = wall_sign(world.a.shop, "侧门", next_due_on=TODAY + timedelta(days=10), last_inspected_on=TODAY)
    wall_sign(world.a.other_shop, "正门", next_due_on=TODAY - timedelta(days=1), last_inspected_on=TODAY)
    wall_sign(world.a.other_shop, "远期", next_due_on=TODAY + timedelta(days=300), last_inspected_on=TODAY)

    assert registry.remind_due() == (1, 1)
    assert registry.remind_due() == (0, 0)

    assert notices(world.a.owner, "is due on") == 1
    assert notices(world.a.officer, "is overdue") == 1 and notices(world.a.officer, "is due on") == 0
    assert notices(world.a.lead, "is overdue") == 1  # the lead of the late sign's alliance
    assert notices(world.b.officer, "overdue") == 0
    db.session.refresh(soon)
    assert soon.due_reminded_for == soon.next_due_on

    soon.next_due_on = TODAY + timedelta(days=20)  # inspected again: a new due date is reminded of again
    db.session.commit()
    result = runner.invoke(args=["safety", "remind"])
    assert result.exit_code == 0, result.output
    assert "1 shop(s) reminded" in result.output and "0 overdue sign(s) reported" in result.output
    assert notices(world.a.owner, "is due on") == 2


# --- the list and its filters ----------------------------------------------------------------------------------


@pytest.fixture
def street_signs(world) -> dict[str, Signboard]:
    """One sign of each kind on side A's street (two roads), and one on side B's street."""
    a = world.a
    road = AllianceFactory(street=a.street, name="华山路商家联盟", road="华山路")
    far = shop_on(road, "88", "华山咖啡")
    late = TODAY - timedelta(days=3)
    signs = {
        "never": wall_sign(a.shop, "从未检查"),
        "overdue": wall_sign(a.shop, "逾期", next_due_on=late, last_inspected_on=late - timedelta(365)),
        "failed": wall_sign(a.shop, "不合格", last_inspected_on=late, last_passed=False),
        "soon": wall_sign(a.other_shop, "将到期", next_due_on=TODAY + timedelta(days=12), last_inspected_on=late),
        "lit": wall_sign(a.other_shop, "灯箱", illuminated=True, next_due_on=TODAY + timedelta(days=200),
                         last_inspected_on=late),
        "projecting": wall_sign(far, "侧挑", sign_type=SignType.PROJECTING, next_due_on=TODAY + timedelta(days=90),
                                last_inspected_on=late),
        "reported": wall_sign(far, "有举报", open_reports=2, next_due_on=TODAY + timedelta(days=400),
                              last_inspected_on=late),
        "removed": wall_sign(far, "已拆除", removed_at=utcnow(), condition=SignCondition.REMOVED,
                             last_inspected_on=late),
    }
    signs["elsewhere"] = wall_sign(world.b.shop, "别的街道")
    return signs


def listed(street_id: int, filters: Filters, size: int = 50) -> list[int]:
    return [line.sign.id for line in registry_queries.registry_page(street_id, filters, None, TODAY, size).lines]


@pytest.mark.parametrize(("flags", "road", "search", "expected"), [
    ((), None, "", {"never", "overdue", "failed", "soon", "lit", "projecting", "reported"}),
    (("overdue",), None, "", {"overdue", "failed"}),  # failed and never passed: due now, so late
    (("due_soon",), None, "", {"soon"}),
    (("high_risk",), None, "", {"projecting"}),
    (("lit",), None, "", {"lit"}),
    (("projecting",), None, "", {"projecting"}),
    (("never",), None, "", {"never"}),
    (("reported",), None, "", {"reported"}),
    (("removed",), None, "", {"never", "overdue", "failed", "soon", "lit", "projecting", "reported", "removed"}),
    (("removed", "never"), None, "", {"never"}),
    (("lit", "overdue"), None, "", set()),  # checkboxes combine with AND
    ((), "other road", "", {"projecting", "reported"}),
    ((), None, "咖啡", {"projecting", "reported"}),  # the shop's name
    ((), None, "88", {"projecting", "reported"}),  # its house number (side A's shops are 100…)
    ((), None, "%", set()),  # typed text, not a pattern
])
def test_each_filter_lists_exactly_its_signs_of_the_street(app, world, street_signs, flags, road, search, expected):
    road_id = street_signs["projecting"].alliance_id if road else None
    found = listed(world.a.street.id, Filters(frozenset(flags), road_id, search))
    assert sorted(found) == sorted(street_signs[name].id for name in expected)


def test_the_most_urgent_come_first(app, world, street_signs):
    """Due now (never inspected, failed without a date), then by due date (the late first), removed last."""
    found = listed(world.a.street.id, Filters(frozenset({"removed"})))
    names = {sign.id: name for name, sign in street_signs.items()}
    assert [names[i] for i in found] == ["never", "failed", "overdue", "soon", "projecting", "lit", "reported",
                                         "removed"]


def test_keyset_pages_list_every_sign_once_in_order(app, world, street_signs):
    filters = Filters(frozenset({"removed"}))
    everything = listed(world.a.street.id, filters)
    seen, after = [], None
    while True:
        page = registry_queries.registry_page(world.a.street.id, filters, after, TODAY, size=3)
        seen += [line.sign.id for line in page.lines]
        if page.next is None:
            break
        after = registry_queries.Cursor.parse(str(page.next))
    assert seen == everything and len(everything) == 8


def test_the_officer_pages_through_a_long_street_by_the_next_page_link(app, world):
    for n in range(55):
        wall_sign(world.a.shop, f"招牌{n}", next_due_on=TODAY + timedelta(days=n % 7), last_inspected_on=TODAY)
    officer = login_as(world.a.officer)
    url, seen, pages = f"/streets/{world.a.street.id}/registry?lit=", [], 0
    while url:
        page = officer.get(url).get_data(as_text=True)
        pages += 1
        seen += [int(i) for i in re.findall(r'data-signboard="(\d+)"', page)]
        found = re.search(r'href="([^"]+)" data-testid="next-page"', page)
        url = found and found[1].replace("&amp;", "&")
    assert pages == 2 and len(seen) == len(set(seen)) == 55
    assert officer.get(f"/streets/{world.a.street.id}/registry?after=1.2026-13-01.5").status_code == 400


def test_a_row_shows_the_signs_line_and_the_overdue_one_stands_out(app, world, street_signs):
    page = login_as(world.a.officer).get(f"/streets/{world.a.street.id}/registry").get_data(as_text=True)
    row = re.search(rf'<tr data-signboard="{street_signs["overdue"].id}".*?</tr>', page, re.S)[0]
    assert world.a.shop.name in row and "逾期" in row and "2.00 × 0.60 m" in row and "Low risk" in row
    assert 'class="badge registry-overdue overdue">Overdue' in row and 'class="error"' in row
    assert f"/signboards/{street_signs['overdue'].id}/registry" in row
    assert "别的街道" not in page and "已拆除" not in page


# --- the CSV ------------------------------------------------------------------------------------------------------


def test_the_csv_opens_in_excel_escapes_formulas_and_keeps_the_filters(app, world, street_signs):
    hostile = shop_on(world.a.alliance, "99", "=HYPERLINK(\"http://evil\",\"点我\")")
    wall_sign(hostile, "+1+2", illuminated=True)
    officer = login_as(world.a.officer)

    response = officer.get(f"/streets/{world.a.street.id}/registry.csv?lit=1")

    body = response.get_data()
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="sign-registry-{world.a.street.id}-{TODAY.isoformat()}.csv"'
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Shop,House number,Road,Position,Type of sign")
    assert len(lines) == 3  # the header and the two lit signs
    assert "'=HYPERLINK" in lines[1] + lines[2] and ",'+1+2," in lines[1] + lines[2]
    everything = officer.get(f"/streets/{world.a.street.id}/registry.csv?removed=1").get_data().decode("utf-8-sig")
    assert len(everything.splitlines()) == 1 + 9 and "已拆除" in everything and "别的街道" not in everything


def test_the_csv_header_is_in_the_readers_language(app, world, street_signs):
    officer = login_as(world.a.officer)
    officer.set_cookie("lang", "zh_CN")
    body = officer.get(f"/streets/{world.a.street.id}/registry.csv").get_data().decode("utf-8-sig")
    assert body.splitlines()[0].startswith("店铺,")


def test_the_csv_is_read_in_batches(app, world, street_signs):
    lines = list(registry_queries.all_lines(world.a.street.id, Filters(frozenset({"removed"})), TODAY, batch=2))
    assert [row.id for row, _order in lines] == listed(world.a.street.id, Filters(frozenset({"removed"})))


# --- planning and the route ---------------------------------------------------------------------------------------


def test_planning_starts_only_due_signs_without_an_inspection_under_way(app, world):
    a = world.a
    due = wall_sign(a.shop, "到期", next_due_on=TODAY + timedelta(days=1), last_inspected_on=TODAY)
    never = wall_sign(a.shop, "从未")
    wall_sign(a.shop, "未到期", next_due_on=TODAY + timedelta(days=100), last_inspected_on=TODAY)
    wall_sign(a.other_shop, "已拆除", removed_at=utcnow(), condition=SignCondition.REMOVED)
    busy = wall_sign(a.other_shop, "检查中")
    inspections.start_for_sign(a.officer, busy)

    planned = registry.plan_periodic(a.officer, a.alliance, TODAY + timedelta(days=1))

    assert planned == registry.Planned(2, 0)
    started = db.session.execute(select(Inspection.signboard_id, Inspection.kind, Inspection.planned_on)
                                 .where(Inspection.planned_on.is_not(None))).all()
    assert sorted(started) == sorted([(due.id, InspectionKind.PERIODIC, TODAY + timedelta(days=1)),
                                      (never.id, InspectionKind.PERIODIC, TODAY + timedelta(days=1))])
    assert registry.plan_periodic(a.officer, a.alliance, TODAY + timedelta(days=1)) == registry.Planned(0, 0)
    with pytest.raises(DomainError, match="today or a later day"):
        registry.plan_periodic(a.officer, a.alliance, TODAY - timedelta(days=1))
    with pytest.raises(NotAllowed):
        registry.plan_periodic(world.b.officer, a.alliance, TODAY)


def test_the_officer_plans_a_road_and_lands_on_its_route(app, world):
    wall_sign(world.a.shop, "到期")
    officer = login_as(world.a.officer)
    day = TODAY + timedelta(days=1)

    response = officer.post(f"/streets/{world.a.street.id}/registry/plan",
                            data={"road": world.a.alliance.id, "day": day.isoformat()}, follow_redirects=True)

    assert response.request.path == f"/streets/{world.a.street.id}/route"
    assert response.request.args["day"] == day.isoformat()
    page = text_of(response)
    assert "Planned 1 inspection for" in page and "1 sign" in page and world.a.shop.name in page
    refused = officer.post(f"/streets/{world.a.street.id}/registry/plan",
                           data={"road": world.a.alliance.id, "day": (TODAY - timedelta(days=1)).isoformat()},
                           follow_redirects=True)
    assert flashed_errors(refused) == ["Choose today or a later day."]
    other = officer.post(f"/streets/{world.a.street.id}/registry/plan",
                         data={"road": world.b.alliance.id, "day": day.isoformat()}, follow_redirects=True)
    assert flashed_errors(other) and db.session.scalar(select(func.count()).select_from(Inspection)) == 1


@pytest.mark.parametrize(("house_number", "key"), [
    ("7", (0, 7, "7")), ("12", (1, 12, "12")), ("1018-1", (1, 1018, "1018-1")), ("1018弄3号", (1, 1018, "1018弄3号")),
    ("甲", (2, 0, "甲")),
])
def test_a_doors_place_along_the_road(house_number, key):
    assert house_key(house_number) == key


def test_the_route_walks_each_road_odd_side_up_then_even_side_up(app, world):
    a = world.a
    for number in ("12", "3", "1018弄3号", "甲", "7", "1018-1"):
        wall_sign(shop_on(a.alliance, number), "正门")
    registry.plan_periodic(a.officer, a.alliance, TODAY)

    page = login_as(a.officer).get(f"/streets/{a.street.id}/route").get_data(as_text=True)

    numbers = re.findall(r'<tr data-stop="\d+">\s*<td class="route-check">.*?</td>\s*<th scope="row">([^<]+)</th>',
                         page, re.S)
    # side A's own two shops (100…) have no sign: not on the route
    assert numbers == ["3", "7", "12", "1018-1", "1018弄3号", "甲"]
    assert page.index("Odd-numbered side") < page.index("Even-numbered side") < page.index("Without a house number")
    tomorrow = login_as(a.officer).get(f"/streets/{a.street.id}/route?day={TODAY + timedelta(days=1)}")
    assert "No inspection is planned for this day." in text_of(tomorrow)


@pytest.mark.postgres_only
def test_two_officers_planning_the_same_road_at_once_start_each_sign_once(app, world):
    a = world.a
    colleague = user_with_role(Role.STREET_OFFICER, street=a.street)
    signs = [wall_sign(a.shop, f"招牌{n}").id for n in range(6)]
    alliance_id, day = a.alliance.id, TODAY + timedelta(days=2)

    def plan(officer_id: int):
        from merchant_alliance.accounts.models import Alliance

        return lambda: registry.plan_periodic(db.session.get(User, officer_id), db.session.get(Alliance, alliance_id),
                                              day)

    results = at_once(app, plan(a.officer.id), plan(colleague.id))

    assert all(isinstance(r, registry.Planned) for r in results), results
    assert sum(r.planned for r in results) == 6
    per_sign = dict(db.session.execute(select(Inspection.signboard_id, func.count()).where(
        Inspection.state == InspectionState.OPEN).group_by(Inspection.signboard_id)).all())
    assert per_sign == {sign_id: 1 for sign_id in signs}


# --- removal ----------------------------------------------------------------------------------------------------


def removal_written(app, sign: Signboard) -> tuple:
    db.session.rollback()
    return (db.session.get(Signboard, sign.id, populate_existing=True).removed_at,
            db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "signboard.removed")), stored_files(app))


def test_a_removal_without_a_photo_is_refused_and_writes_nothing(app, world):
    sign = registered(world.a.owner, world.a.shop)
    before = removal_written(app, sign)
    owner = login_as(world.a.owner)

    response = owner.post(f"/signboards/{sign.id}/removal", data={"removal_note": "已拆除，墙面已修补"})

    page = text_of(response)
    assert response.status_code == 200
    under_photos = re.search(r'photo-field has-error" data-photo-field>.*?<p class="error">([^<]*)</p>', page, re.S)
    assert under_photos[1] == "Please add a photo of the facade without the sign."
    assert "已拆除，墙面已修补</textarea>" in page  # what was typed is kept
    assert removal_written(app, sign) == before


def test_the_shop_closes_its_sign_as_removed_once_and_it_is_planned_no_more(app, world):
    sign = registered(world.a.owner, world.a.shop)
    owner = login_as(world.a.owner)

    response = owner.post(f"/signboards/{sign.id}/removal",
                          data={"removal_note": "店招已拆除", "photos": [upload(filename="拆除后.jpg")]})

    assert response.status_code == 302 and response.location.endswith(f"/signboards/{sign.id}/registry")
    page = text_of(owner.get(f"/signboards/{sign.id}/registry"))
    assert 'data-testid="registry-status">Removed' in page and "店招已拆除" in page
    assert "The facade without the sign" in page and 'data-action="close-removed"' not in page
    db.session.expire_all()
    assert db.session.get(Signboard, sign.id).removal_photo_id is not None
    again = owner.post(f"/signboards/{sign.id}/removal", data={"photos": [upload(filename="再次.jpg")]},
                       follow_redirects=True)
    assert flashed_errors(again) == ["This sign is already closed in the registry as removed."]
    assert registry.plan_periodic(world.a.officer, world.a.alliance, TODAY) == registry.Planned(0, 0)
    assert "店招已拆除" not in login_as(world.a.officer).get(f"/streets/{world.a.street.id}/registry").get_data(
        as_text=True)


@pytest.mark.parametrize(("who", "status"), [("treasurer", 403), ("admin", 403), ("contractor", 404),
                                             ("officer of another street", 404), ("owner of another shop", 404)])
def test_only_the_shop_its_lead_or_the_streets_officer_close_a_sign(app, world, who, status):
    sign = registered(world.a.owner, world.a.shop)
    other_owner = user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)
    person = {"treasurer": world.a.treasurer, "admin": world.admin, "contractor": world.a.contractor,
              "officer of another street": world.b.officer, "owner of another shop": other_owner}[who]
    before = removal_written(app, sign)

    response = login_as(person).post(f"/signboards/{sign.id}/removal", data={"photos": [upload()]})

    assert response.status_code == status
    assert removal_written(app, sign) == before
    with pytest.raises(NotAllowed):
        registry.remove(person, sign, "", [upload()])


def test_the_streets_officer_closes_a_sign_and_may_start_an_inspection_from_its_page(app, world):
    sign = registered(world.a.owner, world.a.shop)
    officer = login_as(world.a.officer)
    page = officer.get(f"/signboards/{sign.id}/registry").get_data(as_text=True)
    assert 'data-action="start-inspection"' in page and 'data-action="close-removed"' in page
    assert f'action="/signboards/{sign.id}/inspections"' in page
    response = officer.post(f"/signboards/{sign.id}/removal", data={"photos": [upload()]})
    assert response.status_code == 302
    assert 'data-action="start-inspection"' not in officer.get(f"/signboards/{sign.id}/registry").get_data(
        as_text=True)


# --- a sign's page ---------------------------------------------------------------------------------------------


def test_a_signs_page_shows_its_risk_schedule_and_whole_history(app, world):
    officer = world.a.officer
    sign = registered(world.a.owner, world.a.shop, illuminated=True, install_year=TODAY.year - 12)
    first = inspect(officer, sign)
    inspect(officer, sign, failing=("S05",))

    page = text_of(login_as(world.a.owner).get(f"/signboards/{sign.id}/registry"))

    assert 'data-testid="registry-risk">High risk' in page
    assert "Illuminated: wiring" in page and "12 years old" in page
    certificate = db.session.scalar(select(Certificate).where(Certificate.inspection_id == first.id))
    assert certificate.serial in page and page.count("Periodic inspection") == 2
    assert "Rectification orders" in page and "To rectify" in page
    assert "Re-inspected every" not in page  # the street's settings are the officer's
    assert "Re-inspected every" in text_of(login_as(officer).get(f"/signboards/{sign.id}/registry"))


@pytest.mark.parametrize("path", ["/streets/{street}/registry", "/streets/{street}/registry.csv",
                                  "/streets/{street}/route", "/signboards/{sign}/registry"])
@pytest.mark.parametrize(("who", "status"), [("officer of another street", 404), ("owner of another alliance", 404),
                                             ("lead", "street 404"), ("anonymous", 302)])
def test_people_without_a_place_here_get_what_the_safety_pages_give_them(app, world, path, who, status):
    sign = registered(world.a.owner, world.a.shop)
    person = {"officer of another street": world.b.officer, "owner of another alliance": world.b.owner,
              "lead": world.a.lead, "anonymous": None}[who]
    url = path.format(street=world.a.street.id, sign=sign.id)

    response = login_as(person).get(url)

    if status == "street 404":  # the lead sees the alliance's signs, not the street office's registry
        assert response.status_code == (200 if url.startswith("/signboards") else 404)
    elif status == 302:
        assert response.status_code == 302 and "/login" in response.location
    else:
        assert response.status_code == status


def test_the_officers_menu_leads_to_the_registry(app, world):
    page = login_as(world.a.officer).get("/").get_data(as_text=True)
    assert f'<a href="/streets/{world.a.street.id}/registry">Sign registry</a>' in page
    assert "/registry" not in login_as(world.a.lead).get("/").get_data(as_text=True)


def test_the_shop_page_shows_each_signs_next_inspection_and_links_its_registry_page(app, world):
    late = wall_sign(world.a.shop, "逾期", next_due_on=TODAY - timedelta(days=2), last_inspected_on=TODAY)
    fine = wall_sign(world.a.shop, "正常", next_due_on=TODAY + timedelta(days=200), last_inspected_on=TODAY)
    never = wall_sign(world.a.shop, "从未")

    page = login_as(world.a.officer).get(f"/shops/{world.a.shop.id}").get_data(as_text=True)

    late_line = re.search(rf'<span class="(\w+)" data-testid="sign-due-{late.id}">.*?</li>', page, re.S)
    assert late_line[1] == "error" and '<span class="badge overdue">Overdue</span>' in late_line[0]
    assert re.search(rf'data-testid="sign-due-{fine.id}">next inspection due', page)
    assert re.search(rf'data-testid="sign-due-{never.id}">Never inspected', page)
    assert f'href="/signboards/{late.id}/registry"' in page


# --- queries: the same count whatever the page holds ---------------------------------------------------------------


def page_queries(browser, url: str) -> int:
    db.session.expire_all()
    with counted_queries() as statements:
        response = browser.get(url)
        assert response.status_code == 200, url
    return len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])


def grow(world, n: int, start: int) -> None:
    """`n` more signs on two roads, each with a photo, half of them failed with a rectification order open, all
    on today's route."""
    a = world.a
    road = AllianceFactory(street=a.street, name=f"第{start}路联盟", road=f"第{start}路")
    leads = {a.alliance.id: a.lead, road.id: user_with_role(Role.ALLIANCE_LEAD, alliance=road)}
    for k in range(n):
        shop = shop_on(road if k % 2 else a.alliance, str(start + k))
        sign = registered(leads[shop.alliance_id], shop, position=f"招牌{start + k}")
        if k % 2:
            inspect(a.officer, sign, failing=("S05",))
        else:
            inspect(a.officer, sign)
    for alliance in (a.alliance, road):
        registry.plan_periodic(a.officer, alliance, TODAY)


def test_the_pages_issue_as_many_queries_for_many_signs_as_for_few(app, world):
    officer = login_as(world.a.officer)
    grow(world, 2, 500)
    sign = db.session.scalar(select(Signboard).where(Signboard.street_id == world.a.street.id)
                             .order_by(Signboard.id).limit(1))
    urls = [f"/streets/{world.a.street.id}/registry", f"/streets/{world.a.street.id}/registry?removed=1&q=店",
            f"/streets/{world.a.street.id}/route", f"/signboards/{sign.id}/registry"]
    small = {url: page_queries(officer, url) for url in urls}
    grow(world, 6, 600)
    for _ in range(2):  # the first sign's history grows too
        inspect(world.a.officer, sign, failing=("S05",))
    assert {url: page_queries(officer, url) for url in urls} == small

