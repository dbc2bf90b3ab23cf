"""Contractors and site work: the alliance's register of contractors, quotes and the choice of one, the work order with
milestones proved by photos, the site log, the punch list, change orders, and payment by milestone with a retention
held until the street office has signed the sign off."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l

from merchant_alliance.accounts.models import Role


def init_app(app: Flask) -> None:
    """The works' pages, rules, lifecycle rows, hooks on the fund's expense requests, menu entries and demo."""
    from merchant_alliance import audit, authz, demo, navigation, panels
    from merchant_alliance.works import contractors, orders, payments, permissions, quotes, views
    from merchant_alliance.works import demo as works_demo

    app.register_blueprint(views.bp)
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    quotes.register_workflow_rows()  # funded → contracted, by selecting a quote
    orders.register_workflow_rows()  # contracted → in_progress → installed, as the work is logged and accepted
    payments.register_hooks()  # an expense request paid, rejected or cancelled moves its payment
    for module in (contractors, quotes, orders):
        audit.register_labels(module.AUDIT_LABELS, objects=module.AUDIT_OBJECTS)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER], _l("Works"), "works.board",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=45)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER], _l("Contractors"), "works.contractors",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=46)
    navigation.add([Role.CONTRACTOR], _l("My work"), "works.my_work", lambda m, _: {}, order=31)
    panels.add("project", "works/_project_panel.html", views.project_panel)
    panels.add("home", "works/_contractor_home.html", views.contractor_home_panel)
    app.cli.add_command(works_command)
    demo.add_loader("works", works_demo.load, before="safety inspections")


@click.group("works")
def works_command() -> None:
    """Contractors' work upkeep."""


@works_command.command("remind")
@with_appcontext
def remind_command() -> None:
    """Tell leads and contractors about milestones past their due date (once each; run daily)."""
    from merchant_alliance.works.orders import tell_about_late

    click.echo(f"{tell_about_late()} late milestone(s) reported.")
