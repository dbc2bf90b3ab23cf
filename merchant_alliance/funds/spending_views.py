"""The fund's working pages: project budgets, pledges and arrears, expense requests, the alliance's rules.

These routes join the `funds` blueprint (see funds/views.py for the open books).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from merchant_alliance import authz
from merchant_alliance.errors import DomainError, form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges, queries, services
from merchant_alliance.funds.forms import (
    BudgetForm,
    EntryForm,
    ExpenseRequestForm,
    FundRulesForm,
    PaymentForm,
    PledgeForm,
    ReasonForm,
    ReceiptsForm,
)
from merchant_alliance.funds.models import ExpenseRequest, ExpenseState, PaymentMethod, Pledge, ShareCover
from merchant_alliance.funds.views import alliance_or_404, books, bp, fund_for_request, require_on_books
from merchant_alliance.inputs import int_arg, page_arg
from merchant_alliance.money import format_fen
from merchant_alliance.pagecache import alliance_scope, lazy
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_day_start_utc

PLEDGE_PAGE_SIZE = 100

# --- money received ------------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/fund/record", methods=["GET", "POST"])
def record(alliance_id: int):
    alliance = alliance_or_404(alliance_id, "record_money")
    fund = fund_for_request(alliance)
    form = EntryForm()
    form.offer(queries.shops_of(alliance.id, active_only=True), pledges.open_pledges(fund.id))
    if form.validate_on_submit():
        with refusals(form, "amount") as attempt:
            entry = services.record_entry(current_user, fund, form.details(), idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Recorded: %(kind)s of %(amount)s.", kind=entry.kind.label,
                    amount=format_fen(abs(entry.amount_fen))), "success")
            return redirect(url_for("funds.overview", alliance_id=alliance.id))
    return render_template("funds/record.html", alliance=alliance, fund=fund, form=form)


# --- project budgets -----------------------------------------------------------------------------


def project_panel(project: Project, user) -> dict:
    """The money card on the project page (added by funds.init_app)."""
    if not authz.can(user, "view_books", project.alliance):
        return {}
    fund = services.default_fund(project.alliance)
    return {
        "cover": budgets.cover(project, fund),
        "can_set_budget": authz.can(user, "manage_budget", project) and lifecycle.allows(project, "set_budget"),
        "can_pledge": pledges.may_pledge(user, project.shop),
        "project_requests": queries.project_requests(fund.id, project.id),
    }


def shop_panel(shop: Shop, user) -> dict:
    """The money card on the shop page: what the shop has pledged, paid and still owes (added by funds.init_app)."""
    money = queries.shop_money(services.default_fund(shop.alliance).id, shop.id)
    return {"shop": shop, "owed_fen": money.owed_fen, "overdue": money.overdue, "paid_fen": money.paid_fen}


@bp.route("/projects/<int:project_id>/budget", methods=["GET", "POST"])
def budget(project_id: int):
    project = db.get_or_404(Project, project_id)
    authz.require(current_user, "manage_budget", project)
    fund = services.default_fund(project.alliance)
    current = budgets.budget_of(project)
    form = BudgetForm()
    if request.method == "GET" and current is not None:
        form.show(current)
    elif request.method == "GET" and project.latest_version and project.latest_version.estimated_cost_fen:
        form.budget.data = project.latest_version.estimated_cost_fen
    if form.validate_on_submit():
        with refusals(form, "budget") as attempt:
            saved = budgets.set_budget(current_user, project, form.budget.data, form.share_rule(fund),
                                       subsidy_source=form.subsidy_source.data or "")
        if attempt.ok:
            flash(_("Budget %(budget)s: shop %(shop)s, fund %(fund)s, subsidy %(subsidy)s.",
                    budget=format_fen(saved.budget_fen), shop=format_fen(saved.shop_fen),
                    fund=format_fen(saved.fund_fen), subsidy=format_fen(saved.subsidy_fen)), "success")
            return redirect(url_for("projects.project", project_id=project.id))
    return render_template("funds/budget.html", project=project, fund=fund, form=form,
                           editable=lifecycle.allows(project, "set_budget"))


# --- pledges and arrears -------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/fund/pledges")
def pledge_list(alliance_id: int):
    alliance, fund = books(alliance_id, "view_receipts", main=True)
    show_all = request.args.get("show") == "all"
    page = page_arg()
    # Built only when the page's body is (not when it comes from the page cache).
    listed = lazy(queries.pledge_page, fund.id, open_only=not show_all, page=page, per_page=PLEDGE_PAGE_SIZE)
    overdue = lazy(pledges.arrears, fund.id)
    return render_template(
        "funds/pledges.html", alliance=alliance, rows=lazy(lambda: listed[0]), arrears=overdue, show_all=show_all,
        page=page, pages=lazy(lambda: max((listed[1] + PLEDGE_PAGE_SIZE - 1) // PLEDGE_PAGE_SIZE, 1)),
        buckets=lazy(pledges.arrears_by_bucket, overdue), status=pledges.pledge_status,
        can_manage=authz.can(current_user, "manage_pledges", alliance),
        cache_scopes=[alliance_scope(alliance.id)],
    )


@bp.route("/alliances/<int:alliance_id>/fund/pledges/new", methods=["GET", "POST"])
def new_pledge(alliance_id: int):
    alliance = alliance_or_404(alliance_id, "view")
    shops = queries.pledgeable_shops(current_user, alliance)
    if not shops:
        abort(403)
    fund = services.default_fund(alliance)
    projects = queries.projects_of_shops(shops)
    form = PledgeForm()
    form.shop_id.choices = [(s.id, f"{s.name} · {s.house_number}") for s in shops]
    form.project_id.choices = [(0, _("A general contribution")), *((p.id, p.title) for p in projects)]
    if request.method == "GET":
        form.shop_id.data = int_arg("shop")
        form.project_id.data = int_arg("project", 0)
        if form.project_id.data:
            project = next((p for p in projects if p.id == form.project_id.data), None)
            cover = budgets.cover(project) if project else None
            if cover and cover.budget:
                form.shop_id.data = project.shop_id
                form.amount.data = cover.shop_missing_fen or cover.budget.shop_fen
    if form.validate_on_submit():
        shop = next(s for s in shops if s.id == form.shop_id.data)
        project = next((p for p in projects if p.id == form.project_id.data), None)
        with refusals(form, "amount") as attempt:
            pledge = pledges.create_pledge(current_user, fund, shop, form.amount.data, form.due_on.data,
                                           project=project, note=form.note.data or "",
                                           idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Pledge recorded: %(shop)s, %(amount)s by %(due)s.", shop=shop.name,
                    amount=format_fen(pledge.amount_fen), due=pledge.due_on.isoformat()), "success")
            if project is not None:
                return redirect(url_for("projects.project", project_id=project.id))
            return redirect(url_for("funds.shop_money", shop_id=shop.id))
    return render_template("funds/pledge_form.html", alliance=alliance, form=form)


@bp.route("/fund/pledges/<int:pledge_id>/cancel", methods=["POST"])
def cancel_pledge(pledge_id: int):
    pledge = db.get_or_404(Pledge, pledge_id)
    alliance = pledge.fund.alliance
    require_on_books(alliance, "manage_pledges")
    form = ReasonForm()
    with refusals() as attempt:
        if not form.validate_on_submit():
            raise DomainError(form_refusal(form, _("Please give a reason.")))
        pledges.cancel_pledge(current_user, pledge, form.reason.data)
    if attempt.ok:
        flash(_("The pledge has been cancelled."), "success")
    return redirect(url_for("funds.pledge_list", alliance_id=alliance.id))


@bp.route("/shops/<int:shop_id>/money")
def shop_money(shop_id: int):
    """A shop's own pledges and payments: for its owner, the alliance's staff and the street office."""
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "view", shop)
    fund = services.default_fund(shop.alliance)
    return render_template(
        "funds/shop_money.html", shop=shop, fund=fund,
        pledges=queries.shop_pledges(fund.id, shop.id), payments=queries.shop_payments(fund.id, shop.id),
        status=pledges.pledge_status, can_pledge=pledges.may_pledge(current_user, shop),
    )


# --- expense requests ----------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/fund/expenses")
def expense_list(alliance_id: int):
    alliance, fund = books(alliance_id)
    state = request.args.get("state")
    state = ExpenseState(state) if state in ExpenseState.__members__.values() else None
    page = lazy(queries.expense_page, fund.id, state, page_arg())
    return render_template(
        "funds/expenses.html", alliance=alliance, fund=fund, page=page, state=state, states=list(ExpenseState),
        can_request=authz.can(current_user, "request_expense", alliance), cache_scopes=[alliance_scope(alliance.id)],
    )


@bp.route("/alliances/<int:alliance_id>/fund/expenses/new", methods=["GET", "POST"])
def new_expense(alliance_id: int):
    alliance = alliance_or_404(alliance_id, "request_expense")
    fund = fund_for_request(alliance)
    projects, shops = queries.projects_of(alliance.id), queries.shops_of(alliance.id)
    form = ExpenseRequestForm()
    form.project_id.choices = [(0, _("Not for one project")), *((p.id, p.title) for p in projects)]
    form.refund_shop_id.choices = [(0, "—"), *((s.id, f"{s.name} · {s.house_number}") for s in shops)]
    if request.method == "GET":
        form.project_id.data = int_arg("project", 0)
    if form.validate_on_submit():
        with refusals(form, "amount") as attempt:
            created = expenses.create_request(
                current_user, fund, payee=form.payee.data or "", payee_account=form.payee_account.data or "",
                refund_to=next((s for s in shops if s.id == form.refund_shop_id.data), None),
                amount_fen=form.amount.data, purpose=form.purpose.data,
                project=next((p for p in projects if p.id == form.project_id.data), None),
                receipts=form.receipts.data or [], idempotency_key=form.idempotency_key.data,
                submit=not form.save_as_draft.data,
            )
        if attempt.ok:
            flash(_("Expense request saved as a draft.") if created.state == ExpenseState.DRAFT
                  else _("Expense request submitted; the leads have been told."), "success")
            return redirect(url_for("funds.expense", request_id=created.id))
    return render_template("funds/expense_form.html", alliance=alliance, fund=fund, form=form)


def _request_or_404(request_id: int) -> ExpenseRequest:
    found = db.get_or_404(ExpenseRequest, request_id)
    authz.require(current_user, "view_books", found.fund.alliance)
    return found


@bp.route("/fund/expenses/<int:request_id>")
def expense(request_id: int):
    found = _request_or_404(request_id)
    return render_template(
        "funds/expense.html", req=found, alliance=found.fund.alliance,
        actions=expenses.actions_for(current_user, found), needed=expenses.approvals_needed(found),
        standing=expenses.expense_requests.standing(current_user, found),
        can_see_receipts=authz.can(current_user, "view_receipts", found.fund.alliance),
        payment_form=PaymentForm(), receipts_form=ReceiptsForm(),
    )


@bp.route("/fund/expenses/<int:request_id>/<any(submit, approve, reject, cancel, pay, receipts):action>",
          methods=["POST"])
def expense_action(request_id: int, action: str):
    found = _request_or_404(request_id)
    with refusals() as attempt:
        message = _do_expense_action(found, action)
    if attempt.ok:
        flash(message, "success")
    return redirect(url_for("funds.expense", request_id=found.id))


def _do_expense_action(found: ExpenseRequest, action: str) -> str:
    """Run one button's service; returns what to tell the user. Refusals raise DomainError/NotAllowed."""
    if action == "submit":
        expenses.submit(current_user, found)
        return _("Submitted; the leads have been told.")
    if action == "approve":
        complete = expenses.approve(current_user, found)
        return _("Approved; the treasurer can pay it now.") if complete else \
            _("Your approval is recorded; a second lead must approve this amount too.")
    if action == "cancel":
        expenses.cancel(current_user, found)
        return _("The request has been cancelled.")
    if action == "receipts":
        form = ReceiptsForm()
        expenses.add_receipts(current_user, found, form.receipts.data or [])
        return _("Receipts added.")
    if action == "reject":
        form = ReasonForm()
        if (form.reason.data or "").strip() and not form.validate_on_submit():  # an empty one: the service says
            raise DomainError(form_refusal(form, _("Please give a reason.")))
        expenses.reject(current_user, found, form.reason.data or "")
        return _("The request has been rejected.")
    form = PaymentForm()
    if not form.validate_on_submit():
        raise DomainError(_("Please check the payment details."))
    expenses.pay(current_user, found, method=PaymentMethod(form.method.data), idempotency_key=form.idempotency_key.data,
                 reference=form.reference.data or "",
                 occurred_on=local_day_start_utc(form.occurred_on.data) if form.occurred_on.data else None)
    return _("Paid: %(amount)s to %(payee)s, recorded in the fund.", amount=format_fen(found.amount_fen),
             payee=found.payee)


# --- the alliance's rules ------------------------------------------------------------------------


@bp.route("/alliances/<int:alliance_id>/fund/rules", methods=["GET", "POST"])
def rules(alliance_id: int):
    alliance = alliance_or_404(alliance_id, "edit_fund_rules")
    fund = services.default_fund(alliance)
    form = FundRulesForm()
    if request.method == "GET":
        form.fund_percent.data = fund.fund_percent
        form.fund_cap.data = fund.fund_cap_fen
        form.two_approvals_above.data = fund.two_approvals_above_fen
        form.shop_share_cover.data = fund.shop_share_cover.value
    if form.validate_on_submit():
        with refusals(form, "fund_cap") as attempt:
            budgets.update_rules(
                current_user, fund, fund_percent=form.fund_percent.data, fund_cap_fen=form.fund_cap.data,
                two_approvals_above_fen=form.two_approvals_above.data,
                shop_share_cover=ShareCover(form.shop_share_cover.data),
            )
        if attempt.ok:
            flash(_("The fund's rules have been saved."), "success")
            return redirect(url_for("funds.overview", alliance_id=alliance.id))
    return render_template("funds/rules.html", alliance=alliance, form=form)
