"""Flask commands: demo data, first admin, translations, and keeping the data sound (doctor, storage gc,
backup, restore)."""

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
    app.cli.add_command(outbox)
    app.cli.add_command(doctor_command)
    app.cli.add_command(storage)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


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


@click.group()
def outbox() -> None:
    """The outbox of email waiting to be sent."""


@outbox.command("send")
def outbox_send() -> None:
    """Send every email that is due, once (failures are retried on a later run)."""
    from merchant_alliance.mail import send_due

    report = send_due()
    click.echo(f"{report.sent} sent, {report.failed} failed (failures are retried later).")


@outbox.command("work")
def outbox_work() -> None:
    """Keep sending email as it is queued (run it beside gunicorn in production; Ctrl-C stops it)."""
    import threading

    from merchant_alliance.mail import work

    stop = threading.Event()
    click.echo("Sending queued email; Ctrl-C to stop.")
    try:
        work(current_app._get_current_object(), stop)
    except KeyboardInterrupt:
        stop.set()


@click.command("doctor")
@click.option("--check", "checks", multiple=True, help="Run only this check (repeatable).")
def doctor_command(checks: tuple[str, ...]) -> None:
    """Check the data: orphan and missing files, ledger invariants, audit trail. Exit status 1 on a finding."""
    from merchant_alliance import doctor

    try:
        findings = doctor.run_checks(checks or None)
    except KeyError as error:
        raise click.UsageError(f"{error.args[0]}; known: {', '.join(doctor.CHECKS)}") from None
    for finding in findings:
        click.echo(f"{finding.check}: {finding.message}")
    ran = checks or tuple(doctor.CHECKS)
    if findings:
        click.echo(f"{len(findings)} problem(s) found by {len(ran)} checks.", err=True)
        sys.exit(1)
    click.echo(f"No problems found ({len(ran)} checks: {', '.join(ran)}).")


@click.group()
def storage() -> None:
    """The photo store."""


@storage.command("gc")
@click.option("--older-than-hours", type=click.FloatRange(min=0), default=None,
              help="Only objects written longer ago than this (default: STORAGE_ORPHAN_GRACE_SECONDS).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def storage_gc(older_than_hours: float | None, dry_run: bool) -> None:
    """Delete stored objects that no row names (left by a process killed before its commit)."""
    from datetime import timedelta

    from merchant_alliance.photos.upkeep import collect_garbage

    older_than = timedelta(hours=older_than_hours) if older_than_hours is not None else None
    removed = collect_garbage(older_than, dry_run=dry_run)
    for item in removed:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {item.key} ({item.size} bytes)")
    click.echo(f"{len(removed)} unreferenced object(s) {'found' if dry_run else 'deleted'}, "
               f"{sum(item.size for item in removed)} bytes.")


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def backup_command(target: Path) -> None:
    """Back up the database and its photo objects into the new folder TARGET, with a checksum manifest."""
    from merchant_alliance.backup import make_backup

    _report("Backed up", "to", target, make_backup)


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(source: Path) -> None:
    """Restore a backup from SOURCE into an empty database and the configured store."""
    from merchant_alliance.backup import restore_backup

    _report("Restored", "from", source, restore_backup)


def _report(done: str, preposition: str, folder: Path, action) -> None:
    from merchant_alliance.backup import BackupError

    try:
        summary = action(folder)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{done} {sum(summary.tables.values())} rows in {len(summary.tables)} tables and "
               f"{summary.objects} objects ({summary.object_bytes} bytes) {preposition} {folder}.")
