"""Street safety: checklist templates, structural permits, inspections on site, rectification, certificates
and the public safety tag. The street office guarantees the safety floor; this domain is its tool."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    """The safety pages, rules, lifecycle rows, menu entries, audit labels and demo data."""
    from merchant_alliance import audit, authz, demo, panels
    from merchant_alliance.safety import (
        certificates,
        inspection_demo,
        inspections,
        permissions,
        registry_demo,
        views,
    )

    app.register_blueprint(views.bp)  # inspections, rectification, certificates, the public tag page
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    panels.add("project", "safety/_project_panel.html", views.project_panel)
    panels.add("shop", "safety/_shop_panel.html", views.shop_panel)
    panels.add("home", "safety/_officer_home.html", views.officer_home_panel)
    panels.add("home", "safety/_owner_home.html", views.owner_home_panel)
    inspections.register_workflow_rows()  # installed → inspection → completed | rectification → inspection
    for module in (inspections, certificates):
        audit.register_labels(module.AUDIT_LABELS, objects=module.AUDIT_OBJECTS)
    _init_checklists(app)
    _init_permits(app)
    _init_registry(app)
    app.cli.add_command(safety_command)
    demo.add_loader("safety inspections", inspection_demo.load)  # after the fund's: it funds the bookshop
    demo.add_loader("sign registry", registry_demo.load)  # after the inspections: the whole road's signs


def _init_permits(app: Flask) -> None:
    """The structural permit: its pages, its card on the project page, its lifecycle rows and its demo."""
    from merchant_alliance import audit, demo, panels
    from merchant_alliance.safety import permit_demo, permit_views, permits

    app.register_blueprint(permit_views.bp)
    panels.add("project", "safety/_permit_panel.html", permit_views.permit_panel)
    permits.register_workflow_rows()  # design_approved → permit_requested → permit_granted | permit_denied
    audit.register_labels(permits.AUDIT_LABELS, objects=permits.AUDIT_OBJECTS)
    demo.add_loader("structural permits", permit_demo.load, before="fund entries")  # funding follows the permit


def _init_checklists(app: Flask) -> None:
    """The street office's checklist editor and safety settings."""
    from flask_babel import lazy_gettext as _l

    from merchant_alliance import audit, navigation
    from merchant_alliance.accounts.models import Role
    from merchant_alliance.safety import checklist_views, checklists

    app.register_blueprint(checklist_views.bp)
    audit.register_labels(checklists.AUDIT_LABELS, objects=checklists.AUDIT_OBJECTS)
    navigation.add([Role.STREET_OFFICER], _l("Safety checklist"), "checklists.checklist",
                   lambda m, _: {"street_id": m.street_id}, order=26)


def _init_registry(app: Flask) -> None:
    """The signboard registry: the street's list of signs, its CSV, the day's route and each sign's page."""
    from flask_babel import lazy_gettext as _l

    from merchant_alliance import audit, navigation
    from merchant_alliance.accounts.models import Role
    from merchant_alliance.safety import registry, registry_views

    app.register_blueprint(registry_views.bp)
    audit.register_labels(registry.AUDIT_LABELS, objects={"signboard": _l("Signboard"), "alliance": _l("Alliance")})
    navigation.add([Role.STREET_OFFICER], _l("Sign registry"), "registry.registry_list",
                   lambda m, _: {"street_id": m.street_id}, order=25)


@click.group("safety")
def safety_command() -> None:
    """Street safety upkeep."""


@safety_command.command("remind")
@with_appcontext
def remind_command() -> None:
    """Tell officers and leads about rectifications past their deadline, remind shops of inspections coming due
    and report signs past their inspection's due date (once each; run daily)."""
    from merchant_alliance.safety.rectifications import tell_about_overdue
    from merchant_alliance.safety.registry import remind_due

    click.echo(f"{tell_about_overdue()} overdue rectification(s) reported.")
    reminded, overdue = remind_due()
    click.echo(f"{reminded} shop(s) reminded of an inspection coming due; {overdue} overdue sign(s) reported.")
