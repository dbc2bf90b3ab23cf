"""The fund's pages: the open books for members, and recording money for the treasurer."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from merchant_alliance import authz
from merchant_alliance.accounts.models import Alliance
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.forms import EntryForm, ReversalForm
from merchant_alliance.funds.models import EntryKind, LedgerEntry, PaymentMethod
from merchant_alliance.money import format_fen, parse_yuan
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_day_start_utc, start_of_month_utc

bp = Blueprint("funds", __name__)
PAGE_SIZE = 50


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def _alliance_or_404(alliance_id: int, action: str) -> Alliance:
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, action, alliance)
    return alliance


@bp.route("/alliances/<int:alliance_id>/fund")
def overview(alliance_id: int):
    alliance = _alliance_or_404(alliance_id, "view_books")
    fund = services.default_fund(alliance)
    db.session.commit()
    recent = db.session.execute(services.entry_rows(fund.id).limit(10)).all()
    return render_template(
        "funds/overview.html", alliance=alliance, fund=fund, total=services.totals(fund.id),
        month=services.totals(fund.id, since=start_of_month_utc()), recent=recent,
        can_record=authz.can(current_user, "record_money", alliance),
        can_see_receipts=authz.can(current_user, "view_receipts", alliance),
    )


def _filters_from_request() -> services.EntryFilters:
    args = request.args
    kind = args.get("kind")
    since, until = args.get("from", ""), args.get("to", "")
    try:
        since_day = _parse_day(since)
        until_day = _parse_day(until)
    except ValueError:
        flash(_("Dates are written like 2026-11-26."), "error")
        since_day = until_day = None
    return services.EntryFilters(
        kind=EntryKind(kind) if kind in EntryKind.__members__.values() else None,
        shop_id=args.get("shop", type=int),
        since=local_day_start_utc(since_day) if since_day else None,
        until=local_day_start_utc(until_day + timedelta(days=1)) if until_day else None,
    )


def _parse_day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@bp.route("/alliances/<int:alliance_id>/fund/entries")
def entries(alliance_id: int):
    alliance = _alliance_or_404(alliance_id, "view_books")
    fund = services.default_fund(alliance)
    db.session.commit()
    filters = _filters_from_request()
    query = services.entry_rows(fund.id, filters)
    page = max(request.args.get("page", 1, type=int), 1)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    shops = db.session.execute(select(Shop.id, Shop.name, Shop.house_number)
                               .where(Shop.alliance_id == alliance.id).order_by(Shop.name)).all()
    return render_template(
        "funds/entries.html", alliance=alliance, rows=rows, filters=filters, shops=shops, kinds=list(EntryKind),
        page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), total=total,
        args={k: v for k, v in request.args.items() if k != "page"},
        can_record=authz.can(current_user, "record_money", alliance),
        can_see_receipts=authz.can(current_user, "view_receipts", alliance),
        reversal_form=ReversalForm(),
    )


@bp.route("/alliances/<int:alliance_id>/fund/record", methods=["GET", "POST"])
def record(alliance_id: int):
    alliance = _alliance_or_404(alliance_id, "record_money")
    fund = services.default_fund(alliance)
    db.session.commit()
    form = EntryForm()
    shops = list(db.session.scalars(select(Shop).where(Shop.alliance_id == alliance.id, Shop.active)
                                    .order_by(Shop.name)))
    form.shop_id.choices = [(0, "—"), *((s.id, f"{s.name} · {s.house_number}") for s in shops)]
    if form.validate_on_submit():
        try:
            amount = parse_yuan(form.amount.data)
            kind = EntryKind(form.kind.data)
            entry = services.record_entry(
                current_user, fund, kind, amount, idempotency_key=form.idempotency_key.data,
                method=PaymentMethod(form.method.data), reference=form.reference.data or "",
                counterparty=form.counterparty.data or "", purpose=form.purpose.data or "",
                shop=next((s for s in shops if s.id == form.shop_id.data), None),
                receipt=form.receipt.data or None,
                occurred_on=local_day_start_utc(form.occurred_on.data) if form.occurred_on.data else None,
            )
        except DomainError as error:
            db.session.rollback()
            form.amount.errors.append(str(error))
        else:
            flash(_("Recorded: %(kind)s of %(amount)s.", kind=entry.kind.label,
                    amount=format_fen(abs(entry.amount_fen))), "success")
            return redirect(url_for("funds.overview", alliance_id=alliance.id))
    return render_template("funds/record.html", alliance=alliance, form=form)


@bp.route("/fund/entries/<int:entry_id>/reverse", methods=["POST"])
def reverse(entry_id: int):
    entry = db.get_or_404(LedgerEntry, entry_id)
    alliance = entry.fund.alliance
    if not authz.can(current_user, "view_books", alliance):
        abort(404)
    authz.require(current_user, "record_money", alliance)
    form = ReversalForm()
    if form.validate_on_submit():
        try:
            services.reverse_entry(current_user, entry, form.reason.data,
                                   idempotency_key=form.idempotency_key.data)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(_("The entry has been reversed."), "success")
    else:
        flash(_("Please give a reason for the reversal."), "error")
    return redirect(url_for("funds.entries", alliance_id=alliance.id))
