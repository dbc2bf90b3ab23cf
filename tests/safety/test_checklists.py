"""The street office keeps its own checklist and safety settings: the default is DOMAIN.md's S01–S16, every edit
saves a new version, inspections keep the version they started with, and only the street's officers reach it."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Role, Street, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.safety import checklists
from merchant_alliance.safety.checklists import ChecklistRefused, ItemSpec
from merchant_alliance.safety.models import (
    ChecklistTemplate,
    Inspection,
    InspectionKind,
    SafetySettings,
    Severity,
)
from merchant_alliance.shops.models import Signboard, SignType
from tests.concurrency import at_once
from tests.factories import user_with_role
from tests.helpers import counted_queries, field_errors, flashed_errors, login_as
from tests.projects.helpers import text_of

C, M, N = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR
# DOMAIN.md, "A realistic inspection checklist": each item's severity, as the table gives it.
DOMAIN_SEVERITIES = {"S01": N, "S02": M, "S03": C, "S04": C, "S05": C, "S06": C, "S07": C, "S08": M, "S09": C,
                     "S10": M, "S11": M, "S12": C, "S13": C, "S14": M, "S15": M, "S16": C}
NEW_ITEM = ItemSpec("S17", "台风季前加固检查", "Extra fixings checked before typhoon season", M, photo_required=True,
                    applies_to=(SignType.PROJECTING.value, "illuminated"))


@pytest.fixture(autouse=True)
def english(app):
    """The services' refusals are read in English here (the pages choose the language themselves)."""
    with force_locale("en"):
        yield


def specs_of(template: ChecklistTemplate) -> list[ItemSpec]:
    return [ItemSpec(i.code, i.text_zh, i.text_en, i.severity, i.photo_required,
                     tuple(k for k in checklists.KINDS if k in i.kinds)) for i in template.items]


def edited(template: ChecklistTemplate) -> list[ItemSpec]:
    """The officer's edit: S03's clear height gets a figure, S15 goes, S17 is added at the end."""
    specs = [spec for spec in specs_of(template) if spec.code != "S15"]
    specs = [replace(s, text_en="Clear height of the bottom edge at least 2.5 m") if s.code == "S03" else s
             for s in specs]
    return [*specs, NEW_ITEM]


def versions(street_id: int) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(ChecklistTemplate.version).where(ChecklistTemplate.street_id == street_id)
                                   .order_by(ChecklistTemplate.version)))


def saved(street_id: int, number: int) -> ChecklistTemplate:
    return db.session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.street_id == street_id,
                                                             ChecklistTemplate.version == number))


def first_version(street_id: int) -> ChecklistTemplate:
    template = checklists.current_template(street_id)
    db.session.commit()
    return template


# --- the default -------------------------------------------------------------------------------------------------


def test_a_street_starts_from_the_sixteen_items_of_domain_md_with_their_severities(app, world):
    """The first time the street's checklist is needed it is version 1: S01–S16, critical, major and minor as in
    the domain's table, and the lit-sign items only for lit signs."""
    template = first_version(world.a.street.id)

    assert template.version == 1 and template.created_by_id is None
    assert {item.code: item.severity for item in template.items} == DOMAIN_SEVERITIES
    assert [item.code for item in template.items] == sorted(DOMAIN_SEVERITIES)
    wiring = next(item for item in template.items if item.code == "S12")
    assert wiring.text_zh == "电线穿管" and wiring.kinds == {"illuminated"}


# --- saving versions ---------------------------------------------------------------------------------------------


def test_saving_makes_version_two_and_leaves_version_one_as_it_was(app, world):
    """The officer adds an item, removes one and rewords one: version 2 has exactly that, the untouched items are
    copied as they were, version 1 still has its sixteen items, and the audit log says what changed."""
    street = world.a.street
    v1 = first_version(street.id)
    before = specs_of(v1)

    v2 = checklists.save_version(world.a.officer, street, edited(v1), "加台风季检查", based_on=1)

    assert (v2.version, v2.created_by_id, v2.note) == (2, world.a.officer.id, "加台风季检查")
    assert specs_of(v2) == edited(v1)
    assert specs_of(saved(street.id, 1)) == before and len(before) == 16
    assert checklists.current_template(street.id).id == v2.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.checklist_saved"))
    assert (event.actor_id, event.object_id, event.street_id) == (world.a.officer.id, v2.id, street.id)
    assert event.details == {"version": 2, "note": "加台风季检查", "added": ["S17"], "removed": ["S15"],
                                  "changed": ["S03"]}


def test_an_inspection_started_on_version_one_keeps_it_after_version_two(app, world):
    """An inspection under way when the checklist changes goes on with the version it started with."""
    street = world.a.street
    v1 = first_version(street.id)
    sign = Signboard(shop=world.a.shop, position="门头", sign_type=SignType.WALL_PARALLEL, width_m=Decimal("4"),
                     height_m=Decimal("0.8"))
    inspection = Inspection(signboard=sign, shop=world.a.shop, alliance_id=world.a.alliance.id, street_id=street.id,
                            template=v1, kind=InspectionKind.PERIODIC, sign_type=SignType.WALL_PARALLEL.value,
                            started_by_id=world.a.officer.id)
    db.session.add(inspection)
    db.session.commit()

    checklists.save_version(world.a.officer, street, edited(v1), based_on=1)

    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).template_id == v1.id
    assert [item.code for item in db.session.get(ChecklistTemplate, v1.id).items] == sorted(DOMAIN_SEVERITIES)


def test_a_version_saved_over_a_newer_one_is_refused(app, world):
    """Two officers opened version 1; the first saves version 2. The second's save, made on version 1, is
    refused with who-came-first in the message, rather than silently undoing the first officer's changes."""
    street = world.a.street
    v1 = first_version(street.id)
    colleague = user_with_role(Role.STREET_OFFICER, street=street)
    checklists.save_version(colleague, street, edited(v1), based_on=1)

    with pytest.raises(DomainError, match="saved version 2 of this checklist a moment ago"):
        checklists.save_version(world.a.officer, street, [*specs_of(v1), NEW_ITEM], based_on=1)
    assert versions(street.id) == [1, 2]


def bad(field: str, value) -> list[ItemSpec]:
    specs = list(checklists.DEFAULT_ITEMS)
    specs[2] = replace(specs[2], **{field: value})
    return specs


@pytest.mark.parametrize("items, field, message", [
    (bad("code", " "), "code", "Give the item a code"),
    (bad("code", "3S"), "code", "letters followed by digits"),
    (bad("code", "S-03"), "code", "letters followed by digits"),
    (bad("code", "SAFETY12345"), "code", "at most 10 characters"),
    (bad("code", "s01"), "code", "already has the code S01"),
    (bad("text_zh", "  "), "text_zh", "Write the item in Chinese."),
    (bad("text_en", ""), "text_en", "Write the item in English."),
    (bad("text_en", "x" * 201), "text_en", "At most 200 characters."),
    (bad("severity", "fatal"), "severity", "Choose critical, major or minor."),
    (bad("applies_to", ("projecting", "balcony")), "applies_to", "Choose the kinds of sign from the list."),
], ids=["no code", "digits first", "dash", "too long code", "same code", "no Chinese", "no English",
        "too long text", "unknown severity", "unknown kind"])
def test_an_item_breaking_a_rule_saves_nothing_and_says_which_field(app, world, items, field, message):
    """Each mistake is named on the item and field it is about, and no version is written."""
    first_version(world.a.street.id)

    with pytest.raises(ChecklistRefused) as refused:
        checklists.save_version(world.a.officer, world.a.street, items)

    db.session.rollback()
    [problem] = refused.value.problems
    assert (problem.index, problem.field) == (2, field) and message in str(problem)
    assert versions(world.a.street.id) == [1]


@pytest.mark.parametrize("items, note, message", [
    ([], "", "at least one item"),
    (list(checklists.DEFAULT_ITEMS), "", "same checklist as version 1"),
    ([*checklists.DEFAULT_ITEMS, NEW_ITEM], "长" * 201, "At most 200 characters."),
    ([replace(checklists.DEFAULT_ITEMS[0], code=f"X{n}") for n in range(101)], "", "at most 100 items"),
], ids=["empty", "unchanged", "too long note", "too many items"])
def test_a_checklist_that_cannot_be_saved_as_a_whole_saves_nothing(app, world, items, note, message):
    first_version(world.a.street.id)

    with pytest.raises(DomainError, match=message):
        checklists.save_version(world.a.officer, world.a.street, items, note)

    assert versions(world.a.street.id) == [1]


@pytest.mark.parametrize("who", ["other officer", "lead", "owner", "admin"])
def test_only_an_officer_of_the_street_saves_its_checklist(app, world, who):
    person = {"other officer": world.b.officer, "lead": world.a.lead, "owner": world.a.owner,
              "admin": world.admin}[who]
    first_version(world.a.street.id)

    with pytest.raises(NotAllowed):
        checklists.save_version(person, world.a.street, [*checklists.DEFAULT_ITEMS, NEW_ITEM])
    with pytest.raises(NotAllowed):
        checklists.update_settings(person, world.a.street, "YYL", 365, 730, 1095, 2, 14, 30)
    assert versions(world.a.street.id) == [1]


@pytest.mark.postgres_only
def test_two_officers_saving_at_once_make_one_new_version_and_the_other_is_told(app, world):
    """Both officers edited version 1 (made by neither yet) and press save at the same moment: one new version,
    and the other hears that a colleague saved first, instead of a duplicate number or an error page."""
    street_id = world.a.street.id
    colleague = user_with_role(Role.STREET_OFFICER, street=world.a.street)
    defaults = list(checklists.DEFAULT_ITEMS)

    def save(officer_id: int, items: list[ItemSpec]):
        return lambda: checklists.save_version(db.session.get(User, officer_id), db.session.get(Street, street_id),
                                               items, based_on=1, idempotency_key=f"race-{officer_id}")

    results = at_once(app, save(world.a.officer.id, [*defaults, NEW_ITEM]),
                      save(colleague.id, defaults[:-1]))

    saved_ones = [r for r in results if isinstance(r, ChecklistTemplate)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(saved_ones) == 1 and len(refused) == 1
    assert "a moment ago" in str(refused[0])
    assert versions(street_id) == [1, 2]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "safety.checklist_saved")) == 1


# --- settings ----------------------------------------------------------------------------------------------------


def test_the_officer_sets_the_street_code_and_the_days(app, world):
    settings = checklists.update_settings(world.a.officer, world.a.street, " yyl ", 730, 1000, 2000, 1, 10, 60)

    db.session.expire_all()
    settings = db.session.get(SafetySettings, world.a.street.id)
    assert (settings.code, settings.high_risk_days, settings.medium_risk_days, settings.low_risk_days,
            settings.critical_days, settings.major_days, settings.minor_days, settings.updated_by_id) == (
        "YYL", 730, 1000, 2000, 1, 10, 60, world.a.officer.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.settings_saved"))
    assert event.street_id == world.a.street.id and event.details["changes"]["code"] == [
        checklists.default_code(world.a.street.id), "YYL"]


@pytest.mark.parametrize("values, field, message", [
    (("Y", 365, 730, 1095, 2, 14, 30), "code", "2 to 12 capital letters or digits"),
    (("YY-L", 365, 730, 1095, 2, 14, 30), "code", "2 to 12 capital letters or digits"),
    (("ABCDEFGHIJKLM", 365, 730, 1095, 2, 14, 30), "code", "2 to 12 capital letters or digits"),
    (("YYL", 0, 730, 1095, 2, 14, 30), "high_risk_days", "from 1 to 3650"),
    (("YYL", 365, 730, 1095, 2, 14, 3651), "minor_days", "from 1 to 3650"),
    (("YYL", 365, 300, 1095, 2, 14, 30), "medium_risk_days", "less often than a safer one"),
    (("YYL", 365, 730, 700, 2, 14, 30), "low_risk_days", "less often than a safer one"),
], ids=["short code", "dash", "long code", "no interval", "too many days", "medium before high", "low before medium"])
def test_settings_breaking_a_rule_are_refused_and_not_saved(app, world, values, field, message):
    with pytest.raises(DomainError, match=message) as refused:
        checklists.update_settings(world.a.officer, world.a.street, *values)

    assert refused.value.field == field
    db.session.rollback()
    assert db.session.get(SafetySettings, world.a.street.id) is None


@pytest.mark.parametrize("taken", ["saved by the other street", "the other street's default"])
def test_a_street_code_of_another_street_is_refused(app, world, taken):
    """Serial numbers are unique across streets: a code another street uses (or will, by default) is refused."""
    if taken == "saved by the other street":
        checklists.update_settings(world.b.officer, world.b.street, "YYL", 365, 730, 1095, 2, 14, 30)
        code = "YYL"
    else:
        code = checklists.default_code(world.b.street.id)

    with pytest.raises(DomainError, match="Another street uses the code"):
        checklists.update_settings(world.a.officer, world.a.street, code, 365, 730, 1095, 2, 14, 30)


# --- the pages ---------------------------------------------------------------------------------------------------


def form_fields(page: str) -> dict[str, str]:
    return {name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)
            for name in ("idempotency_key", "based_on")}


def posted(specs: list[ItemSpec], note: str = "", **hidden: str) -> dict:
    data: dict = {"note": note, **hidden}
    for n, spec in enumerate(specs):
        data |= {f"items-{n}-code": spec.code, f"items-{n}-text_zh": spec.text_zh,
                 f"items-{n}-text_en": spec.text_en, f"items-{n}-severity": str(spec.severity),
                 f"items-{n}-applies_to": [str(kind) for kind in spec.applies_to]}
        if spec.photo_required:
            data[f"items-{n}-photo_required"] = "y"
    return data


def chinese(user: User):
    client = login_as(None)
    client.set_cookie("lang", "zh_CN")
    return login_as(user, client)


def test_the_officer_reads_the_checklist_in_their_language_with_the_other_below(app, world):
    """Nothing is written by looking: the page shows the default as version 1 until it is first needed."""
    url = f"/streets/{world.a.street.id}/safety/checklist"
    english, zh = login_as(world.a.officer).get(url), chinese(world.a.officer).get(url)

    assert english.status_code == zh.status_code == 200
    page = text_of(english)
    assert "Version 1" in page and "Critical" in page and "Photo required" in page
    assert re.search(r'<p lang="en">Wiring in conduit, not aged or damaged</p>\s*<p class="hint" lang="zh-CN">电线穿管',
                     page)
    assert re.search(r'<p lang="zh-CN">电线穿管</p>\s*<p class="hint" lang="en">Wiring in conduit', text_of(zh))
    assert versions(world.a.street.id) == []


def test_the_officer_edits_the_checklist_in_one_form_and_gets_version_two(app, world):
    """The edit page has a row per item and three blank ones; the officer rewords S03, removes S15 and fills a
    blank row with S17. Version 2 is saved; version 1 stays readable, read-only, from the list of versions."""
    officer = login_as(world.a.officer)
    base = f"/streets/{world.a.street.id}/safety/checklist"
    page = officer.get(f"{base}/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="items-18-code"' in html and 'name="items-19-code"' not in html  # 16 items, 3 blank rows
    specs = list(checklists.DEFAULT_ITEMS)
    data = posted([*specs, NEW_ITEM], "加台风季检查", **form_fields(html))
    data["items-2-text_en"] = "Clear height of the bottom edge at least 2.5 m"
    data["items-14-remove"] = "y"  # S15

    response = officer.post(f"{base}/edit", data=data)

    assert response.status_code == 302 and response.headers["Location"].endswith(base)
    current = officer.get(base)
    assert "Version 2 saved." in text_of(current) and "Version 2" in text_of(current)
    v2 = saved(world.a.street.id, 2)
    assert [i.code for i in v2.items] == [s.code for s in specs if s.code != "S15"] + ["S17"]
    old = officer.get(f"{base}/versions/1")
    assert old.status_code == 200 and "read only" in text_of(old) and "Lightning protection" in text_of(old)
    assert "at least 2.5 m" not in text_of(old)
    assert officer.get(f"{base}/versions/3").status_code == 404


def test_a_mistake_in_the_form_is_shown_beside_its_field_and_nothing_is_saved(app, world):
    officer = login_as(world.a.officer)
    url = f"/streets/{world.a.street.id}/safety/checklist/edit"
    data = posted([*checklists.DEFAULT_ITEMS, replace(NEW_ITEM, code="S01", text_zh="")],
                  **form_fields(officer.get(url).get_data(as_text=True)))

    response = officer.post(url, data=data)

    assert response.status_code == 200
    assert field_errors(response, "items-16-code") == ["Another item already has the code S01."]
    assert field_errors(response, "items-16-text_zh") == ["Write the item in Chinese."]
    assert flashed_errors(response) == ["The checklist was not saved. Please correct the items marked below."]
    assert 'value="Extra fixings checked before typhoon season"' in response.get_data(as_text=True)  # kept
    assert versions(world.a.street.id) == []


def test_the_same_form_sent_twice_saves_one_version(app, world):
    """A double tap on a slow phone: one version 2, and both taps land on the checklist page."""
    officer = login_as(world.a.officer)
    url = f"/streets/{world.a.street.id}/safety/checklist/edit"
    data = posted([*checklists.DEFAULT_ITEMS, NEW_ITEM], **form_fields(officer.get(url).get_data(as_text=True)))

    first, second = officer.post(url, data=data), officer.post(url, data=data)

    assert first.status_code == second.status_code == 302
    assert versions(world.a.street.id) == [1, 2]


def test_the_settings_page_saves_the_code_and_days_and_shows_mistakes_beside_them(app, world):
    officer = login_as(world.a.officer)
    url = f"/streets/{world.a.street.id}/safety/settings"
    page = text_of(officer.get(url))
    assert f'value="{checklists.default_code(world.a.street.id)}"' in page and 'value="365"' in page

    wrong = officer.post(url, data={"street_code": "愚园", "high_risk_days": "0", "medium_risk_days": "730",
                                    "low_risk_days": "1095", "critical_days": "2", "major_days": "14",
                                    "minor_days": "30"})
    assert wrong.status_code == 200
    assert field_errors(wrong, "street_code") == ["The street code is 2 to 12 capital letters or digits, such as YYL."]
    assert field_errors(wrong, "high_risk_days") == ["Choose a number of days from 1 to 3650."]
    assert db.session.get(SafetySettings, world.a.street.id) is None

    taken = checklists.default_code(world.b.street.id)
    refused = officer.post(url, data={"street_code": taken, "high_risk_days": "730", "medium_risk_days": "730",
                                      "low_risk_days": "1095", "critical_days": "2", "major_days": "14",
                                      "minor_days": "30"})
    assert field_errors(refused, "street_code") == [f"Another street uses the code {taken}. Please choose another one."]

    right = officer.post(url, data={"street_code": "yyl", "high_risk_days": "730", "medium_risk_days": "900",
                                    "low_risk_days": "1200", "critical_days": "1", "major_days": "10",
                                    "minor_days": "60"})
    assert right.status_code == 302
    db.session.expire_all()
    settings = db.session.get(SafetySettings, world.a.street.id)
    assert (settings.code, settings.high_risk_days, settings.medium_risk_days, settings.low_risk_days,
            settings.critical_days) == ("YYL", 730, 900, 1200, 1)


PAGES = ["checklist", "checklist/versions/1", "checklist/edit", "settings"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who, status", [("officer of another street", 404), ("lead", 404), ("owner", 404),
                                         ("treasurer", 404), ("nobody", 404), ("admin", 403)])
def test_only_officers_of_the_street_reach_the_pages(app, world, page, who, status):
    """Anyone else gets what a made-up street gets (the platform admin, who may see the street, a 403)."""
    person = {"officer of another street": world.b.officer, "lead": world.a.lead, "owner": world.a.owner,
              "treasurer": world.a.treasurer, "nobody": world.nobody, "admin": world.admin}[who]
    browser = login_as(person)
    url = f"/streets/{world.a.street.id}/safety/{page}"

    assert browser.get(url).status_code == status
    assert browser.post(url, data={"street_code": "HACK", "high_risk_days": "1", "critical_days": "1",
                                   "major_days": "1", "minor_days": "1"}).status_code in (status, 405)
    assert versions(world.a.street.id) == [] and db.session.get(SafetySettings, world.a.street.id) is None


@pytest.mark.parametrize("page", PAGES)
def test_a_made_up_street_is_not_found_and_a_visitor_is_sent_to_log_in(app, world, page):
    assert login_as(world.a.officer).get(f"/streets/999999/safety/{page}").status_code == 404
    response = login_as(None).get(f"/streets/{world.a.street.id}/safety/{page}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_officers_menu_leads_to_the_checklist(app, world):
    page = login_as(world.a.officer).get("/").get_data(as_text=True)
    assert f'<a href="/streets/{world.a.street.id}/safety/checklist">Safety checklist</a>' in page
    assert "/safety/checklist" not in login_as(world.a.lead).get("/").get_data(as_text=True)


def test_the_pages_issue_as_many_queries_for_many_versions_as_for_one(app, world):
    officer = login_as(world.a.officer)
    base = f"/streets/{world.a.street.id}/safety"
    urls = [f"{base}/{page}" for page in PAGES]

    def queries() -> dict[str, int]:
        counts = {}
        for url in urls:
            db.session.expire_all()
            with counted_queries() as statements:
                assert officer.get(url).status_code == 200, url
            # A SAVEPOINT is the test's transaction around the request's, not a query of the page.
            counts[url] = len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])
        return counts

    first_version(world.a.street.id)
    checklists.update_settings(world.a.officer, world.a.street, "YYL", 365, 730, 1095, 2, 14, 30)
    small = queries()
    items = list(checklists.DEFAULT_ITEMS)
    for n in range(6):
        items = [*items, replace(NEW_ITEM, code=f"S{20 + n}")]
        checklists.save_version(world.a.officer, world.a.street, items, f"第{n}次")
    assert len(saved(world.a.street.id, 7).items) == 22
    assert queries() == small
