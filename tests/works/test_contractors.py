"""The alliance's register of contractors: a lead adds, edits and deactivates them (names unique in the alliance),
and gives a contractor's login only to people who hold the alliance's contractor role."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.works import contractors, quotes
from merchant_alliance.works.models import Acceptor, Contractor, ContractorKind, QuoteState
from merchant_alliance.works.permissions import contractor_ids
from tests.fixtures.works import contracted_order, contractor_person, funded, make_contractor, offer
from tests.works.helpers import refused

pytestmark = pytest.mark.usefixtures("in_request")

DETAILS = {"name": "静安广告装饰工程队", "kinds": ["installer", "designer"], "licence_number": "D231034567",
           "contact_name": "王师傅", "contact_phone": "13800001111", "insurance_expires_on": date(2027, 6, 30),
           "notes": "高空作业证齐全"}
NOT_LEADS = ("treasurer", "owner", "contractor", "officer", "admin", "lead_next_door", "lead_elsewhere", "nobody")


def test_a_lead_adds_and_edits_a_contractor_whose_name_is_unique_in_the_alliance(app, world, cast):
    """The register keeps one contractor per name in an alliance: a second one of the same name (even with spaces
    around it) is refused saying so, while another alliance may have its own of that name."""
    contractor = contractors.add_contractor(cast.lead, world.a.alliance, DETAILS)
    assert (contractor.name, contractor.kind_list, contractor.licence_number, contractor.active) == (
        "静安广告装饰工程队", [ContractorKind.DESIGNER, ContractorKind.INSTALLER], "D231034567", True)
    assert [e.action for e in db.session.scalars(events_for_object(contractor))] == ["contractor.created"]

    refused(app, DomainError, contractors.add_contractor, cast.co_lead, world.a.alliance,
            DETAILS | {"name": "  静安广告装饰工程队 "}, match="already has a contractor of that name")
    elsewhere = contractors.add_contractor(world.b.lead, world.b.alliance, DETAILS)
    assert elsewhere.alliance_id == world.b.alliance.id

    other = contractors.add_contractor(cast.lead, world.a.alliance, DETAILS | {"name": "鑫达广告"})
    refused(app, DomainError, contractors.update_contractor, cast.lead, other, DETAILS,
            match="already has a contractor of that name")
    contractors.update_contractor(cast.co_lead, other, DETAILS | {"name": "鑫达广告制作", "notes": "只做灯箱"})
    db.session.refresh(other)
    assert (other.name, other.notes) == ("鑫达广告制作", "只做灯箱")
    changed = db.session.scalar(events_for_object(other).where(AuditEvent.action == "contractor.updated"))
    assert sorted(changed.details["fields"]) == ["name", "notes"]


@pytest.mark.parametrize("values, field, said", [
    ({"name": "   "}, "name", "name"),
    ({"kinds": []}, "kinds", "what the contractor does"),
])
def test_a_contractor_without_a_name_or_a_trade_is_refused(app, world, values, field, said):
    """The register needs a name and at least one trade, and says so under the field."""
    error = refused(app, DomainError, contractors.add_contractor, world.a.lead, world.a.alliance, DETAILS | values,
                    match=said)
    assert error.field == field


def test_only_a_lead_of_the_alliance_keeps_its_register(app, world, cast):
    """Nobody but the alliance's leads adds, edits, deactivates a contractor or gives it a login."""
    contractor = contractors.add_contractor(cast.lead, world.a.alliance, DETAILS)
    for who in NOT_LEADS:
        person = getattr(cast, who)
        refused(app, NotAllowed, contractors.add_contractor, person, world.a.alliance, DETAILS | {"name": "别家"})
        refused(app, NotAllowed, contractors.update_contractor, person, contractor, DETAILS | {"notes": "改"})
        refused(app, NotAllowed, contractors.set_active, person, contractor, False)
        refused(app, NotAllowed, contractors.add_person, person, contractor, cast.contractor.id)


def test_only_a_person_holding_the_alliances_contractor_role_can_act_for_a_contractor(app, world, cast):
    """A shop owner, the treasurer or another alliance's contractor cannot be given a contractor's login; the
    alliance's contractor account can, and then acts for it (until the lead takes it off)."""
    contractor = contractors.add_contractor(cast.lead, world.a.alliance, DETAILS)
    for person in (world.a.owner, world.a.treasurer, world.b.contractor):  # no role, or another alliance's
        refused(app, DomainError, contractors.add_person, cast.lead, contractor, person.id,
                match="Only a person with the alliance's contractor role")
    refused(app, DomainError, contractors.add_person, cast.lead, contractor, None, match="Choose a person")
    assert contractor_ids(world.a.contractor) == frozenset()

    contractors.add_person(cast.lead, contractor, world.a.contractor.id)
    assert [u.id for u in contractor.users] == [world.a.contractor.id]
    assert contractor_ids(world.a.contractor) == {contractor.id}
    contractors.remove_person(cast.lead, contractor, world.a.contractor.id)
    assert contractor.users == [] and contractor_ids(world.a.contractor) == frozenset()


def test_a_deactivated_contractor_keeps_its_history_but_is_neither_invited_nor_chosen(app, world, works):
    """Deactivating is not deleting: the contractor stays in the register. It can no longer be asked to quote, and
    the quote it gave before cannot be selected; reactivated, it can."""
    project = funded(works)
    contractor = make_contractor(world.a)
    spare, _ = contractor_person(world.a, "鑫达广告")
    (quote,) = quotes.invite(world.a.lead, project, [contractor], "请报价")
    quotes.submit(world.a.contractor, quote, offer())

    contractors.set_active(world.a.lead, contractor, False)
    contractors.set_active(world.a.lead, spare, False)
    assert db.session.get(Contractor, contractor.id).active is False
    assert [c.id for c in contractors.contractors_of(world.a.alliance.id, active_only=True)] == []
    refused(app, DomainError, quotes.invite, world.a.lead, project, [spare], match="鑫达广告 is deactivated")
    refused(app, DomainError, quotes.select_quote, world.a.lead, quote, "最便宜",
            match="静安广告装饰工程队 is deactivated")
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "contractor",
                                                                AuditEvent.object_id == contractor.id)).all()
    assert "contractor.deactivated" in events

    contractors.set_active(world.a.lead, contractor, True)
    quotes.select_quote(world.a.lead, quote, "最便宜")
    assert quote.state == QuoteState.SELECTED


def test_the_alliances_rules_for_works_cap_the_retention_and_each_order_keeps_the_rules_it_was_made_with(
        app, world, works):
    """A lead sets the retention (at most the legal 3%), the warranty and who accepts; an order made afterwards holds
    that retention and warranty even when the rules change again."""
    refused(app, NotAllowed, contractors.update_settings, world.a.treasurer, world.a.alliance,
            retention_percent=Decimal(2), warranty_days=180, accepted_by=Acceptor.EITHER)
    refused(app, DomainError, contractors.update_settings, world.a.lead, world.a.alliance,
            retention_percent=Decimal("3.01"), warranty_days=180, accepted_by=Acceptor.EITHER,
            match="between 0% and 3%")
    refused(app, DomainError, contractors.update_settings, world.a.lead, world.a.alliance,
            retention_percent=Decimal(2), warranty_days=-1, accepted_by=Acceptor.EITHER, match="warranty")

    order = contracted_order(works, retention_percent=Decimal("2.5"), warranty_days=180, accepted_by=Acceptor.EITHER)
    assert (order.retention_percent, order.warranty_days) == (Decimal("2.5"), 180)
    contractors.update_settings(world.a.lead, world.a.alliance, retention_percent=Decimal(0), warranty_days=0,
                                accepted_by=Acceptor.LEAD)
    db.session.refresh(order)
    assert (order.retention_percent, order.warranty_days) == (Decimal("2.5"), 180)
    assert contractors.settings_for(world.a.alliance.id).accepted_by == Acceptor.LEAD
