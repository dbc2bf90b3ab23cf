"""The street's design guidelines: each check, who may change them, and what a change does to a project."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.projects import services
from merchant_alliance.projects.guidelines import OK, UNKNOWN, VIOLATION, check, guideline_for, violations
from merchant_alliance.projects.models import DesignGuideline
from merchant_alliance.shops.models import SignType
from tests.helpers import login_as
from tests.projects.helpers import text_of

RULES = {"max_width_share": Decimal("0.90"), "max_height_m": Decimal("1.20"), "max_projection_wall_m": Decimal("0.50"),
         "max_projection_projecting_m": Decimal("1.50"), "min_clearance_m": Decimal("3.00"), "lighting_allowed": True}
FORM = {"max_width_share": "0.90", "max_height_m": "1.20", "max_projection_wall_m": "0.50",
        "max_projection_projecting_m": "1.50", "min_clearance_m": "3.00", "lighting_allowed": "y",
        "notes": "招牌颜色与建筑立面协调"}
FACADE = Decimal("6.50")  # so the sign may be 5.85 m wide


def sign(**changes) -> SimpleNamespace:
    values = {"sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("5.00"), "height_m": Decimal("0.90"),
              "projection_m": Decimal("0.30"), "clearance_m": None, "illuminated": False}
    return SimpleNamespace(**(values | {k: Decimal(v) if k.endswith("_m") and v else v for k, v in changes.items()}))




def statuses(spec, facade=FACADE, **rules) -> dict[str, str]:
    return {f.code: f.status for f in check(spec, facade, DesignGuideline(**(RULES | rules)))}


# --- the checks -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_db")
@pytest.mark.parametrize(("spec", "facade", "rules", "expected"), [
    # width against the share of the facade
    (sign(width_m="5.85"), FACADE, {}, {"width": OK, "height": OK, "projection": OK}),
    (sign(width_m="5.86"), FACADE, {}, {"width": VIOLATION, "height": OK, "projection": OK}),
    (sign(width_m="3.26"), FACADE, {"max_width_share": Decimal("0.50")}, {"width": VIOLATION, "height": OK,
                                                                           "projection": OK}),
    (sign(width_m="6.50"), FACADE, {"max_width_share": Decimal("1.00")}, {"width": OK, "height": OK,
                                                                           "projection": OK}),
    (sign(width_m="9.00"), None, {}, {"width": UNKNOWN, "height": OK, "projection": OK}),
    # height
    (sign(height_m="1.20"), FACADE, {}, {"width": OK, "height": OK, "projection": OK}),
    (sign(height_m="1.21"), FACADE, {}, {"width": OK, "height": VIOLATION, "projection": OK}),
    # projection, by type of sign: wall-parallel and canopies the wall limit, projecting signs their own
    (sign(projection_m="0.51"), FACADE, {}, {"width": OK, "height": OK, "projection": VIOLATION}),
    (sign(sign_type=SignType.PROJECTING, projection_m="1.50", clearance_m="3.00"), FACADE, {},
     {"width": OK, "height": OK, "projection": OK, "clearance": OK}),
    (sign(sign_type=SignType.PROJECTING, projection_m="1.51", clearance_m="3.00"), FACADE, {},
     {"width": OK, "height": OK, "projection": VIOLATION, "clearance": OK}),
    (sign(sign_type=SignType.CANOPY, projection_m="0.51", clearance_m="3.20"), FACADE, {},
     {"width": OK, "height": OK, "projection": VIOLATION, "clearance": OK}),
    (sign(sign_type=SignType.FREE_STANDING, projection_m="4.00"), FACADE, {}, {"width": OK, "height": OK}),
    # clear height under projecting signs and canopies (not asked of wall signs)
    (sign(sign_type=SignType.PROJECTING, projection_m="1.00", clearance_m="2.99"), FACADE, {},
     {"width": OK, "height": OK, "projection": OK, "clearance": VIOLATION}),
    (sign(sign_type=SignType.CANOPY, clearance_m=None), FACADE, {},
     {"width": OK, "height": OK, "projection": OK, "clearance": UNKNOWN}),
    (sign(clearance_m="1.00"), FACADE, {}, {"width": OK, "height": OK, "projection": OK}),
    (sign(sign_type=SignType.CANOPY, clearance_m="3.50"), FACADE, {"min_clearance_m": Decimal("4.00")},
     {"width": OK, "height": OK, "projection": OK, "clearance": VIOLATION}),
    # lighting
    (sign(illuminated=True), FACADE, {}, {"width": OK, "height": OK, "projection": OK, "lighting": OK}),
    (sign(illuminated=True), FACADE, {"lighting_allowed": False},
     {"width": OK, "height": OK, "projection": OK, "lighting": VIOLATION}),
    (sign(illuminated=False), FACADE, {"lighting_allowed": False}, {"width": OK, "height": OK, "projection": OK}),
])
def test_each_guideline_is_checked(spec, facade, rules, expected):
    assert statuses(spec, facade, **rules) == expected


@pytest.mark.usefixtures("no_db")
def test_the_findings_say_what_was_measured_against_which_limit():
    rules = DesignGuideline(**RULES)
    findings = {f.code: f for f in check(sign(sign_type=SignType.PROJECTING, width_m="5.86", projection_m="1.6",
                                               clearance_m="2.5", illuminated=True), FACADE, rules)}
    assert findings["width"].message == "Width 5.86 m; at most 5.85 m (90% of the 6.50 m facade)."
    assert findings["height"].message == "Height 0.90 m; at most 1.20 m."
    assert findings["projection"].message == ("Projection from the wall 1.60 m; at most 1.50 m for this type of "
                                              "sign.")
    assert findings["clearance"].message == "Clear height above the pavement 2.50 m; at least 3.00 m."
    assert findings["lighting"].message == "Illuminated sign: allowed on this street."
    assert [f.code for f in violations(list(findings.values()))] == ["width", "projection", "clearance"]


@pytest.mark.usefixtures("no_db")
def test_an_unknown_facade_width_is_reported_as_unknown_not_as_passing():
    findings = check(sign(width_m="20.00"), None, DesignGuideline(**RULES))
    width = next(f for f in findings if f.code == "width")
    assert width.status == UNKNOWN and not width.ok
    assert width.message == ("Width 20.00 m; the shop's facade width is not recorded, so the width cannot be "
                             "checked.")
    assert violations(findings) == []  # not a breach either: the reviewer is told it is unknown


# --- who may change them -------------------------------------------------------------------------


def saved_guidelines() -> list[tuple]:
    db.session.rollback()
    return db.session.execute(select(DesignGuideline.street_id, DesignGuideline.max_width_share,
                                     DesignGuideline.max_height_m, DesignGuideline.lighting_allowed)).all()


def test_only_the_street_officer_changes_the_guidelines_and_bad_values_save_nothing(app, world, cast):
    street = world.a.street
    assert guideline_for(street.id).id is None  # the defaults, until the street office saves its own
    assert guideline_for(street.id).max_width_share == Decimal("0.90")
    values = {name: Decimal(FORM[name]) for name in RULES if name != "lighting_allowed"} | {
        "lighting_allowed": True, "notes": ""}

    with force_locale("en"):
        for name, bad in (("max_width_share", Decimal("0.05")), ("max_width_share", Decimal("1.01")),
                          ("max_width_share", None), ("max_height_m", Decimal("-0.01")),
                          ("min_clearance_m", Decimal("51")), ("max_projection_wall_m", None)):
            with pytest.raises(DomainError, match=r"must be between 0(\.10)? and"):
                services.update_guidelines(cast.officer, street, values | {name: bad})
            assert saved_guidelines() == [], (name, bad)
        for name in ("lead", "owner", "treasurer", "lead_elsewhere"):
            with pytest.raises(NotAllowed):
                services.update_guidelines(getattr(cast, name), street, values)
        with pytest.raises(NotAllowed):
            services.update_guidelines(world.b.officer, street, values)
        assert saved_guidelines() == []

    services.update_guidelines(cast.officer, street, values | {"max_width_share": Decimal("0.80"),
                                                               "lighting_allowed": False})
    assert saved_guidelines() == [(street.id, Decimal("0.80"), Decimal("1.20"), False)]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "guidelines_updated"))
    assert (event.actor_id, event.street_id) == (cast.officer.id, street.id)
    assert event.details["changes"]["max_width_share"] == ["0.90", "0.80"]
    assert guideline_for(world.b.street.id).id is None  # the other street keeps its own


def test_the_guidelines_page_edits_for_the_officer_and_reads_for_the_streets_people(app, world, cast):
    url = f"/streets/{world.a.street.id}/guidelines"
    officer = login_as(cast.officer)
    assert 'name="max_width_share"' in text_of(officer.get(url))

    for field, typed, message in (("max_width_share", "1.5", "Number must be between 0.1 and 1."),
                                  ("max_width_share", "0.05", "Number must be between 0.1 and 1."),
                                  ("max_height_m", "-1", "Number must be between 0 and 50."),
                                  ("min_clearance_m", "-0.5", "Number must be between 0 and 50."),
                                  ("max_projection_wall_m", "abc", "Not a valid decimal value.")):
        response = officer.post(url, data=FORM | {field: typed})
        assert response.status_code == 200, (field, typed)
        assert message in text_of(response), (field, typed)
        assert saved_guidelines() == [], (field, typed)

    response = officer.post(url, data=FORM | {"max_width_share": "0.75", "max_height_m": "1.00"})
    assert response.headers["Location"] == url
    assert saved_guidelines() == [(world.a.street.id, Decimal("0.75"), Decimal("1.00"), True)]
    assert "The design guidelines have been saved." in text_of(officer.get(url))

    for name in ("lead", "treasurer", "owner", "neighbour", "contractor", "lead_next_door"):
        client = login_as(getattr(cast, name))
        page = text_of(client.get(url))
        assert "0.75" in page and 'name="max_width_share"' not in page, name
        assert client.post(url, data=FORM).status_code == 403, name
    for name in ("lead_elsewhere", "owner_elsewhere", "nobody"):
        client = login_as(getattr(cast, name))
        for response in (client.get(url), client.post(url, data=FORM)):
            assert response.status_code == 404, name
            assert "0.75" not in text_of(response)
    other_officer = login_as(world.b.officer)
    assert other_officer.get(url).status_code == 404
    assert other_officer.post(url, data=FORM).status_code == 404
    assert login_as(cast.admin).post(url, data=FORM).headers["Location"] == url
    assert saved_guidelines() == [(world.a.street.id, Decimal("0.90"), Decimal("1.20"), True)]  # the admin's


def test_changed_guidelines_change_the_findings_on_a_project(app, world, proposal, cast):
    project = proposal(width_m=Decimal("5.50"), illuminated=True)
    owner = login_as(cast.owner)
    page = text_of(owner.get(f"/projects/{project.id}"))
    assert "Width 5.50 m; at most 5.85 m (90% of the 6.50 m facade)." in page
    assert "Illuminated sign: allowed on this street." in page
    assert "guideline is broken" not in page and "guidelines are broken" not in page

    login_as(cast.officer).post(f"/streets/{world.a.street.id}/guidelines",
                                 data=FORM | {"max_width_share": "0.80", "lighting_allowed": ""})
    page = text_of(owner.get(f"/projects/{project.id}"))
    assert "Width 5.50 m; at most 5.20 m (80% of the 6.50 m facade)." in page
    assert "Illuminated sign: this street does not allow illuminated signs." in page
    assert "2 guidelines are broken." in page
    assert len(re.findall(r'class="finding finding-violation"', page)) == 2

    with app.test_request_context("/"), force_locale("en"):
        services.move(cast.owner, project, "submit")
        with pytest.raises(DomainError, match="This design breaks 2 of the street's guidelines"):
            services.move(cast.lead, project, "approve_design")
    lead_page = text_of(login_as(cast.lead).get(f"/projects/{project.id}"))
    assert 'id="reason-approve_design"' in lead_page  # the reviewer is asked why
