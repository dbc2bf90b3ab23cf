"""Flask commands: demo data, first admin, translations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from merchant_alliance.extensions import db

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def register(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(translate)


@click.group()
def demo() -> None:
    """Demo data for 愚园路."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no users yet.")
def demo_load(if_empty: bool) -> None:
    """Load the Yuyuan Road demo (safe to run twice) and print the demo logins."""
    from merchant_alliance.accounts.models import User
    from merchant_alliance.demo import CO_LEAD, DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo

    if if_empty and db.session.scalar(select(func.count(User.id))):
        click.echo("Database already has users; demo data not loaded.")
    else:
        with current_app.test_request_context("/"):  # notifications link to pages
            added = load_demo()
        click.echo("Demo data: " + ", ".join(f"{k} +{v}" for k, v in added.items()))
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for account in [*DEMO_ACCOUNTS, CO_LEAD]:
        click.echo(f"  {account.role.value:<15} {account.phone}  or {account.email:<28} {account.name}")


@click.command("create-admin")
@click.option("--name", required=True)
@click.option("--phone", default="")
@click.option("--email", default="")
@click.password_option()
def create_admin(name: str, phone: str, email: str, password: str) -> None:
    """Create a platform administrator (the first account of a new deployment)."""
    from merchant_alliance.accounts.models import Role, User
    from merchant_alliance.accounts.services import (
        check_password_strength,
        find_user_by_login,
        grant_role,
        hash_password,
        normalize_email,
        normalize_phone,
    )
    from merchant_alliance.errors import DomainError

    phone_n = normalize_phone(phone) if phone else None
    email_n = normalize_email(email) if email else None
    if not phone_n and not email_n:
        raise click.UsageError("Give a valid --phone or --email")
    if any(find_user_by_login(login) for login in (phone_n, email_n) if login):
        raise click.UsageError("An account with this phone or email already exists")
    try:
        check_password_strength(password)
    except DomainError as error:
        raise click.UsageError(str(error)) from None
    user = User(name=name, phone=phone_n, email=email_n, password_hash=hash_password(password))
    db.session.add(user)
    grant_role(user, Role.PLATFORM_ADMIN)
    db.session.commit()
    click.echo(f"Platform administrator {name} created.")


@click.group()
def translate() -> None:
    """Translation and localisation commands."""


def _pybabel(*args: str) -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), *args], check=True, cwd=PROJECT_DIR)  # noqa: S603 - fixed arguments


@translate.command()
def update() -> None:
    """Extract all messages and update the catalogues."""
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_", "--no-location", "--sort-output",
             "-o", "messages.pot", ".")
    _pybabel("update", "-i", "messages.pot", "-d", "merchant_alliance/translations", "--no-fuzzy-matching")
    (PROJECT_DIR / "messages.pot").unlink()


@translate.command()
def compile() -> None:  # noqa: A001 - the command is called compile
    """Compile the catalogues (make run and make test do this)."""
    _pybabel("compile", "-d", "merchant_alliance/translations", "--statistics")
