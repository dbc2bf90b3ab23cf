"""Helpers of the works' tests: a snapshot of everything a refused action must leave as it was (`written`), and
`refused`, which runs an action that must be refused and checks nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import ExpenseRequest, LedgerEntry, ProjectBudget, Reservation
from merchant_alliance.notifications.models import Notification
from merchant_alliance.once import FormSubmission
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import Project
from merchant_alliance.works.models import (
    ChangeOrder,
    Contractor,
    Milestone,
    OrderPayment,
    PunchItem,
    Quote,
    SiteLogEntry,
    WorkOrder,
    contractor_users,
    milestone_photos,
    punch_photos,
    quote_photos,
    site_log_photos,
)
from tests.projects.helpers import stored_files


def rows(*columns) -> list:
    return db.session.execute(select(*columns).order_by(columns[0])).all()


def count(model_or_table) -> int:
    return db.session.scalar(select(func.count()).select_from(model_or_table))


def written(app) -> dict[str, Any]:
    """Every row a works action may write, and the stored files, as the test's transaction sees them now (not
    rolled back first: a refusal must leave nothing half-done behind, even for a caller that goes on)."""
    counted = (SiteLogEntry, Photo, AuditEvent, Notification, FormSubmission, contractor_users, milestone_photos,
               site_log_photos, punch_photos, quote_photos)
    return {
        "contractors": rows(Contractor.id, Contractor.name, Contractor.active, Contractor.notes),
        "quotes": rows(Quote.id, Quote.state, Quote.amount_fen, Quote.reason),
        "orders": rows(WorkOrder.id, WorkOrder.state, WorkOrder.agreed_fen, WorkOrder.changes_fen,
                       WorkOrder.installed_on),
        "milestones": rows(Milestone.id, Milestone.state, Milestone.done_by_id, Milestone.decided_by_id),
        "punch": rows(PunchItem.id, PunchItem.state),
        "changes": rows(ChangeOrder.id, ChangeOrder.state, ChangeOrder.shop_fen, ChangeOrder.fund_fen),
        "payments": rows(OrderPayment.id, OrderPayment.state, OrderPayment.gross_fen),
        "projects": rows(Project.id, Project.state),
        "budgets": rows(ProjectBudget.project_id, ProjectBudget.budget_fen, ProjectBudget.fund_fen),
        "reservations": rows(Reservation.id, Reservation.amount_fen),
        "entries": rows(LedgerEntry.id, LedgerEntry.amount_fen),
        "requests": rows(ExpenseRequest.id, ExpenseRequest.state),
        "counts": dict(zip([getattr(m, "__tablename__", None) or m.name for m in counted], db.session.execute(
            select(*(select(func.count()).select_from(m).scalar_subquery() for m in counted))).one(), strict=True)),
        "files": stored_files(app),
    }


def refused(app, error: type[Exception], action, *args, match: str | None = None, **kwargs) -> Exception:
    """`action` is refused with `error` (saying `match`), and nothing at all is written: no row, no file."""
    before = written(app)
    with pytest.raises(error, match=match) as raised:
        action(*args, **kwargs)
    after = written(app)
    assert after == before, {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    db.session.rollback()
    return raised.value
